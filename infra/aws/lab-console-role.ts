import { consoleIdentityPolicy } from '../../lib/aws/catalogue';
import type { ConsoleRoleOptions } from '../lab/contract';

// The role every lab runs the console as (integration tests, e2e, `npm start`): its policy is the
// one the console's deployment gives its task role, generated from the catalogue of calls for the
// config the lab writes. The lab enforces it on every call, so the whole suite runs under least
// privilege, and a call the catalogue lacks fails where it is made.

export const LAB_CONSOLE_ROLE_NAME = 'linkbox-ops-console';

export function labConsoleRole(): ConsoleRoleOptions {
  return {
    name: LAB_CONSOLE_ROLE_NAME,
    policyDocument: (config, { accountId }) => consoleIdentityPolicy(config, { partition: 'aws', accountId }),
  };
}
