import type { AwsEnvironmentConfig, ConsoleConfig } from '@/lib/config/schema';
import { parameterName, pendingPasswordName } from './parameter-names';
import { awsScope } from './scope';

// The catalogue of calls: every AWS API call lib/aws makes, grouped into the IAM statements that
// allow it, on the resources it is made on. The console's IAM policy is generated from it (per
// environment, from the config) — for the ECS task role and the other accounts' roles in infra/aws,
// and for the role every lab runs the console as — so the permissions are never a second,
// hand-written copy. tests/unit/aws/catalogue.test.ts reads lib/aws for every SDK command the code
// sends and fails when one is missing here (or listed here and sent nowhere).
// No 'server-only' and no SDK import: infra/aws and the lab build the policy from this file too.

export interface PolicyStatement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** Where the policy lives: its account's ARNs (a CDK token or a lab account id). */
export interface PolicyScope {
  partition: string;
  accountId: string;
}

export interface CatalogueStatement {
  sid: string;
  /** What the console does with it, in the operator's words (the README's permission table). */
  purpose: string;
  /** The API calls lib/aws sends that need this statement, as "service:Operation". */
  calls: string[];
  actions: string[];
  /** The resources for one environment; "*" only where AWS offers no resource-level scoping. */
  resources(env: AwsEnvironmentConfig, scope: PolicyScope): string[];
  /**
   * What the call needs beyond `resources` when it is made for several environments at once, i.e.
   * for an environment that shares its AWS scope with another in the policy (lib/aws/batch.ts).
   */
  batchedResources?(env: AwsEnvironmentConfig, scope: PolicyScope): string[];
  condition?(env: AwsEnvironmentConfig, scope: PolicyScope): PolicyStatement['Condition'];
  /** The resources as the README shows them. */
  where: string;
  /** Why a resource has a wildcard (cdk-nag's AwsSolutions-IAM5 suppression quotes it). */
  wildcard?: string;
}

/** SDK helpers in lib/aws that send a call themselves: a waiter, a credential provider. */
export const SDK_HELPER_CALLS: Record<string, string> = {
  fromTemporaryCredentials: 'sts:AssumeRole',
};

const arn = (scope: PolicyScope, service: string, region: string, resource: string) => `arn:${scope.partition}:${service}:${region}:${scope.accountId}:${resource}`;
const parameterArn = (env: AwsEnvironmentConfig, scope: PolicyScope, name: string) => arn(scope, 'ssm', env.region, `parameter${name}`);
const passwordSlots = (env: AwsEnvironmentConfig) => [parameterName(env, 'db-password'), pendingPasswordName(env)];

export const CATALOGUE: CatalogueStatement[] = [
  {
    sid: 'ReadParameters',
    purpose: 'read the four parameters start_application.sh reads, and both password slots during a rotation',
    calls: ['ssm:GetParameters'],
    actions: ['ssm:GetParameters'],
    resources: (env, scope) =>
      [parameterName(env, 'db-endpoint'), parameterName(env, 'db-username'), parameterName(env, 'db-password'), parameterName(env, 'db-name'), pendingPasswordName(env)].map(
        (name) => parameterArn(env, scope, name),
      ),
    where: '`<prefix>/db-endpoint`, `db-username`, `db-password`, `db-name`, `db-password-pending`',
  },
  {
    sid: 'PasswordHistory',
    purpose: 'when each version of db-password was written, to tell whether a container started before a real change (times only; the values come through ReadParameters)',
    calls: ['ssm:GetParameterHistory'],
    actions: ['ssm:GetParameterHistory'],
    resources: (env, scope) => [parameterArn(env, scope, parameterName(env, 'db-password'))],
    where: '`<prefix>/db-password`',
  },
  {
    sid: 'DescribeParameters',
    purpose: "the parameters' type, version, key and last writer, and whether a pending slot exists",
    calls: ['ssm:DescribeParameters'],
    actions: ['ssm:DescribeParameters'],
    resources: () => ['*'],
    where: '`*`',
    wildcard: 'ssm:DescribeParameters has no resource-level permissions; the console filters by name',
  },
  {
    sid: 'WritePasswordSlots',
    purpose: 'store the new password as the pending slot, then promote it to db-password',
    calls: ['ssm:PutParameter'],
    actions: ['ssm:PutParameter'],
    resources: (env, scope) => passwordSlots(env).map((name) => parameterArn(env, scope, name)),
    where: '`<prefix>/db-password`, `<prefix>/db-password-pending`',
  },
  {
    sid: 'RemovePendingSlot',
    purpose: 'remove the pending slot once the new password is promoted (or rolled back)',
    calls: ['ssm:DeleteParameter'],
    actions: ['ssm:DeleteParameter'],
    resources: (env, scope) => [parameterArn(env, scope, pendingPasswordName(env))],
    where: '`<prefix>/db-password-pending`',
  },
  {
    sid: 'PasswordKeyThroughSsm',
    purpose: 'decrypt and encrypt the password slots, only as SSM does it for those two parameters',
    calls: ['ssm:GetParameters', 'ssm:PutParameter'],
    actions: ['kms:Decrypt', 'kms:Encrypt'],
    resources: (env, scope) => [arn(scope, 'kms', env.region, 'key/*')],
    condition: (env, scope) => ({
      StringEquals: {
        'kms:ViaService': `ssm.${env.region}.amazonaws.com`,
        'kms:EncryptionContext:PARAMETER_ARN': passwordSlots(env).map((name) => parameterArn(env, scope, name)),
      },
    }),
    where: "the parameters' KMS key (`key/*`), only via SSM (`kms:ViaService`) and only for the two password slots (`kms:EncryptionContext:PARAMETER_ARN`)",
    wildcard: "the config does not name db-password's key; kms:ViaService and the PARAMETER_ARN encryption context bind it to the two password slots",
  },
  {
    sid: 'RunShellScriptDocument',
    purpose: "run the deploy's stop/start scripts, docker inspect and nc through Run Command",
    calls: ['ssm:SendCommand'],
    actions: ['ssm:SendCommand'],
    resources: (env, scope) => [`arn:${scope.partition}:ssm:${env.region}::document/AWS-RunShellScript`],
    where: 'the document `AWS-RunShellScript`',
  },
  {
    sid: 'RunOnBackends',
    purpose: "run those commands on the environment's backend instances and nowhere else",
    calls: ['ssm:SendCommand'],
    actions: ['ssm:SendCommand'],
    resources: (env, scope) =>
      'ids' in env.backendInstances ? env.backendInstances.ids.map((id) => arn(scope, 'ec2', env.region, `instance/${id}`)) : [arn(scope, 'ec2', env.region, 'instance/*')],
    condition: (env) =>
      'tags' in env.backendInstances
        ? { StringEquals: Object.fromEntries(Object.entries(env.backendInstances.tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v])) }
        : undefined,
    where: "`instance/*` with `ssm:resourceTag/<tag>` equal to the backend selector's tags (or the selector's instance ids)",
    wildcard: "backends are chosen by tag: the ssm:resourceTag condition admits only instances carrying the backend selector's tags",
  },
  {
    sid: 'CommandResults',
    purpose: "read the answers of a Run Command the console sent: every instance's at once, and one whole when the listing cut it",
    calls: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'],
    actions: ['ssm:ListCommandInvocations', 'ssm:GetCommandInvocation'],
    resources: () => ['*'],
    where: '`*`',
    wildcard: 'ssm:ListCommandInvocations and ssm:GetCommandInvocation have no resource-level permissions',
  },
  {
    sid: 'AgentStatus',
    purpose: "whether each backend's SSM agent is online (a diagnosis step)",
    calls: ['ssm:DescribeInstanceInformation'],
    actions: ['ssm:DescribeInstanceInformation'],
    resources: () => ['*'],
    where: '`*`',
    wildcard: 'ssm:DescribeInstanceInformation has no resource-level permissions',
  },
  {
    sid: 'DescribeDatabase',
    purpose:
      "the RDS instance's state, endpoint, master user and pending changes; for environments that share a region and credentials, all their instances in one call filtered on their ids",
    calls: ['rds:DescribeDBInstances'],
    actions: ['rds:DescribeDBInstances'],
    resources: (env, scope) => [arn(scope, 'rds', env.region, `db:${env.rdsInstanceId}`)],
    batchedResources: (env, scope) => [arn(scope, 'rds', env.region, 'db:*')],
    where: 'the DB instance `db:<rdsInstanceId>`; `db:*` in a region where two or more environments share the credentials',
    wildcard:
      'a DescribeDBInstances filtered on several instance ids is authorized on db:* (read-only metadata of every DB instance in the region, no data, no secret); granted only where environments share a region and credentials, else db:<rdsInstanceId>',
  },
  {
    sid: 'ChangeMasterPassword',
    purpose: 'set the master password during a rotation or a rollback',
    calls: ['rds:ModifyDBInstance'],
    actions: ['rds:ModifyDBInstance'],
    resources: (env, scope) => [arn(scope, 'rds', env.region, `db:${env.rdsInstanceId}`)],
    where: 'the DB instance `db:<rdsInstanceId>`',
  },
  {
    sid: 'DescribeNetwork',
    purpose: "the security groups' rules, the backend instances (state, groups, subnet, instance profile), and each backend's path to RDS: subnets, network ACLs, RDS's network interface",
    calls: ['ec2:DescribeSecurityGroups', 'ec2:DescribeInstances', 'ec2:DescribeSubnets', 'ec2:DescribeNetworkAcls', 'ec2:DescribeNetworkInterfaces'],
    actions: ['ec2:DescribeSecurityGroups', 'ec2:DescribeInstances', 'ec2:DescribeSubnets', 'ec2:DescribeNetworkAcls', 'ec2:DescribeNetworkInterfaces'],
    resources: () => ['*'],
    where: '`*`',
    wildcard: 'EC2 Describe* actions have no resource-level permissions',
  },
  {
    sid: 'BackendInstanceProfile',
    purpose: "the role behind the backends' instance profile (a diagnosis step)",
    calls: ['iam:GetInstanceProfile'],
    actions: ['iam:GetInstanceProfile'],
    resources: (env, scope) => [`arn:${scope.partition}:iam::${scope.accountId}:instance-profile/${env.backendIam?.instanceProfileName ?? '*'}`],
    where: 'the instance profile `backendIam.instanceProfileName` (any, when the config does not name it)',
    wildcard: 'read-only; the config does not name the instance profile (set backendIam to narrow it)',
  },
  {
    sid: 'SimulateBackendRole',
    purpose: 'ask IAM whether the backend role may read and decrypt db-password (a diagnosis step)',
    calls: ['iam:SimulatePrincipalPolicy'],
    actions: ['iam:SimulatePrincipalPolicy'],
    resources: (env, scope) => [`arn:${scope.partition}:iam::${scope.accountId}:role/${env.backendIam?.roleName ?? '*'}`],
    where: 'the role `backendIam.roleName` (any, when the config does not name it)',
    wildcard: 'read-only; the config does not name the backend role (set backendIam to narrow it)',
  },
];

/** The one statement only the console's own identity needs: assuming the roles of environments that name one. */
export const ASSUME_ENVIRONMENT_ROLES = {
  sid: 'AssumeEnvironmentRoles',
  purpose: 'assume the role an environment names (another account), with its external id',
  calls: ['sts:AssumeRole'],
  actions: ['sts:AssumeRole'],
  where: 'the `roleArn` of each environment with `"credentials": {"source": "assume-role"}`',
} as const;

/** Every API call the catalogue allows, as "service:Operation". */
export function cataloguedCalls(): Set<string> {
  return new Set([...CATALOGUE.flatMap((s) => s.calls), ...ASSUME_ENVIRONMENT_ROLES.calls]);
}

/**
 * The permissions the console needs in the environments given (one account): each catalogue
 * statement once, its resources joined across environments that share its condition.
 */
export function environmentPolicy(environments: AwsEnvironmentConfig[], scope: PolicyScope): PolicyDocument {
  if (environments.length === 0) throw new Error('an IAM policy needs at least one AWS environment');
  const statements: PolicyStatement[] = [];
  const perScope = new Map<string, number>();
  for (const env of environments) perScope.set(awsScope(env), (perScope.get(awsScope(env)) ?? 0) + 1);
  const batched = (env: AwsEnvironmentConfig) => perScope.get(awsScope(env))! > 1;
  for (const entry of CATALOGUE) {
    const variants: PolicyStatement[] = [];
    for (const env of environments) {
      const condition = entry.condition?.(env, scope);
      const same = variants.find((v) => JSON.stringify(v.Condition) === JSON.stringify(condition));
      const resources = [...entry.resources(env, scope), ...(batched(env) ? (entry.batchedResources?.(env, scope) ?? []) : [])];
      if (same) same.Resource = [...new Set([...same.Resource, ...resources])];
      else variants.push({ Sid: entry.sid, Effect: 'Allow', Action: [...entry.actions], Resource: resources, ...(condition ? { Condition: condition } : {}) });
    }
    // Sids are unique in a policy: a statement that differs per environment is numbered.
    variants.forEach((v, i) => statements.push(variants.length > 1 ? { ...v, Sid: `${v.Sid}${i + 1}` } : v));
  }
  return { Version: '2012-10-17', Statement: statements };
}

/** The AWS environments of a config, grouped by the identity the console uses for them. */
export function environmentsByIdentity(config: Pick<ConsoleConfig, 'environments'>): { own: AwsEnvironmentConfig[]; roles: Map<string, AwsEnvironmentConfig[]> } {
  const own: AwsEnvironmentConfig[] = [];
  const roles = new Map<string, AwsEnvironmentConfig[]>();
  for (const env of config.environments) {
    if (env.kind !== 'aws') continue;
    if (env.credentials.source === 'assume-role') roles.set(env.credentials.roleArn, [...(roles.get(env.credentials.roleArn) ?? []), env]);
    else own.push(env);
  }
  return { own, roles };
}

/**
 * The console's own identity (the ECS task role): the catalogue for the environments it reaches
 * with its own credentials, and sts:AssumeRole on the roles the others name.
 */
export function consoleIdentityPolicy(config: Pick<ConsoleConfig, 'environments'>, scope: PolicyScope): PolicyDocument {
  const { own, roles } = environmentsByIdentity(config);
  const statements = own.length > 0 ? environmentPolicy(own, scope).Statement : [];
  if (roles.size > 0) {
    statements.push({ Sid: ASSUME_ENVIRONMENT_ROLES.sid, Effect: 'Allow', Action: [...ASSUME_ENVIRONMENT_ROLES.actions], Resource: [...roles.keys()] });
  }
  if (statements.length === 0) throw new Error('the config has no AWS environment: the console needs no AWS permission');
  return { Version: '2012-10-17', Statement: statements };
}

/** The permission table of README "Deploy to AWS", generated from the catalogue. */
export function permissionTable(): string {
  const rows = [...CATALOGUE, ASSUME_ENVIRONMENT_ROLES].map((s) => `| \`${s.sid}\` | ${s.actions.map((a) => `\`${a}\``).join(', ')} | ${s.where} | ${s.purpose} |`);
  return ['| statement | actions | on | for |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
