import { CreateRoleCommand, CreateUserCommand, IAMClient, PutRolePolicyCommand, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import type { ConsoleRoleOptions, ConsoleRoleState } from '../contract';

// "The console runs as role X": the role the console's deployment would give it, created in moto
// with its trust and permissions policies, and a source identity for the key the console signs its
// sts:AssumeRole with (LABCONSOLE, the lab's stand-in for the console's task role) that may do
// nothing but assume that role — so a console that forgot to assume it is refused, not waved through.

/** The fixed key the console uses in lab mode (lib/aws/clients.ts); the lab's admin until a console role is set. */
export const CONSOLE_ACCESS_KEY_ID = 'LABCONSOLE';
/** The schema's default session name (lib/config/schema.ts). */
const DEFAULT_SESSION_NAME = 'linkbox-ops-console';

export async function createConsoleRole(options: {
  endpoint: string;
  region: string;
  accountId: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  role: ConsoleRoleOptions;
}): Promise<ConsoleRoleState> {
  const { role, accountId } = options;
  const iam = new IAMClient({ region: options.region, endpoint: options.endpoint, credentials: options.credentials, maxAttempts: 3 });
  try {
    const trust = role.trustPolicy ?? {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${accountId}:root` },
          Action: 'sts:AssumeRole',
          ...(role.externalId ? { Condition: { StringEquals: { 'sts:ExternalId': role.externalId } } } : {}),
        },
      ],
    };
    const created = await iam.send(new CreateRoleCommand({ RoleName: role.name, AssumeRolePolicyDocument: asText(trust), Description: 'LinkBox Ops Console (lab)' }));
    const roleArn = created.Role!.Arn!;
    const sourceUser = `${role.name}-source`;
    const user = await iam.send(new CreateUserCommand({ UserName: sourceUser }));
    await Promise.all([
      iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: `${role.name}-permissions`, PolicyDocument: asText(role.policyDocument) })),
      iam.send(
        new PutUserPolicyCommand({
          UserName: sourceUser,
          PolicyName: 'assume-console-role',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }] }),
        }),
      ),
    ]);
    return {
      roleName: role.name,
      roleArn,
      externalId: role.externalId ?? null,
      sessionName: role.sessionName ?? DEFAULT_SESSION_NAME,
      sourceAccessKeyId: CONSOLE_ACCESS_KEY_ID,
      sourcePrincipalArn: user.User!.Arn!,
    };
  } finally {
    iam.destroy();
  }
}

function asText(document: string | object): string {
  return typeof document === 'string' ? document : JSON.stringify(document);
}
