import 'server-only';
import { BACKEND_CREDENTIAL_CHECKS } from './backend-credentials';
import { BACKEND_NETWORK_CHECKS } from './backend-network';
import { CONTAINER_CHECKS } from './containers';
import type { CheckContext } from './context';
import { DATABASE_CHECKS } from './database';
import { LOCAL_CHECKS } from './local';
import { NETWORK_CHECKS } from './network';
import { RDS_CHECKS } from './rds';
import type { CheckDefinition } from './run';
import { SECURITY_GROUP_CHECKS } from './security-groups';
import { SSM_CHECKS } from './ssm';

// Every check of DESIGN.md's vocabulary, by area. Each applies to the environment kinds it names.
export const ALL_CHECKS: ReadonlyArray<CheckDefinition<CheckContext>> = [
  ...SSM_CHECKS,
  ...RDS_CHECKS,
  ...SECURITY_GROUP_CHECKS,
  ...BACKEND_NETWORK_CHECKS,
  ...NETWORK_CHECKS,
  ...DATABASE_CHECKS,
  ...BACKEND_CREDENTIAL_CHECKS,
  ...CONTAINER_CHECKS,
  ...LOCAL_CHECKS,
] as ReadonlyArray<CheckDefinition<CheckContext>>;
