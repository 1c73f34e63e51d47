import type { AwsCall } from '../contract';
import type { RolePolicies } from './policies';
import type { PolicySource, RequestContext } from './policy-evaluator';
import type { World } from './world';

// What IAM checks for each API call, after the Service Authorization Reference: the IAM action(s),
// the resource ARN(s) each is checked on, and the condition keys the request carries. One row per
// API action; an action without a row is checked as `<service>:<Action>` on "*", which is what AWS
// does for actions without resource-level permissions (Describe*, List*, ...).

export interface Authorization {
  /** The IAM action, e.g. "ssm:GetParameter". */
  action: string;
  /** The ARN IAM checks the action on, or "*" where the action supports no resource-level scoping. */
  resource: string;
  /** Condition keys this request sets (aws:ResourceTag/…, ssm:resourceTag/…, kms:ViaService, sts:ExternalId, …). */
  context?: RequestContext;
  /**
   * A resource-based policy that must allow as well: a role's trust policy (sts:AssumeRole), a KMS
   * key's key policy. Null when the resource does not exist, which nothing allows.
   */
  resourcePolicy?: { kind: 'trust-policy' | 'key-policy'; source: PolicySource | null };
  /** Set when a service makes this call for the caller (SSM calling KMS for a SecureString). */
  onBehalfOf?: 'ssm';
}

export interface CallScope {
  call: AwsCall;
  accountId: string;
  world: World;
  /** A role's policies as IAM holds them (cached by the enforcer); undefined when there is no such role. */
  role(name: string): Promise<RolePolicies | undefined>;
}

type Rule = (scope: CallScope) => Authorization[] | Promise<Authorization[]>;

const on = (action: string, resource: string, context?: RequestContext): Authorization => ({ action, resource, ...(context ? { context } : {}) });
const anywhere = (action: string): Rule => () => [on(action, '*')];

/** Every API action the console and the backends call, and the ones operators use with the CLI. */
export const AUTHORIZATION_RULES: Record<string, Rule> = {
  // Systems Manager Parameter Store: each parameter the request names (GetParametersByPath: the
  // path). Reading a SecureString with decryption also has SSM call kms:Decrypt for the caller.
  'ssm:GetParameter': (s) => readParameters(s, 'ssm:GetParameter', [str(s.call.input.Name)]),
  'ssm:GetParameters': (s) => readParameters(s, 'ssm:GetParameters', strings(s.call.input.Names)),
  'ssm:GetParameterHistory': (s) => readParameters(s, 'ssm:GetParameterHistory', [str(s.call.input.Name)]),
  'ssm:GetParametersByPath': (s) => readPath(s),
  'ssm:PutParameter': (s) => writeParameter(s),
  'ssm:DeleteParameter': (s) => [on('ssm:DeleteParameter', parameterArn(s, str(s.call.input.Name)))],
  'ssm:DeleteParameters': (s) => strings(s.call.input.Names).map((n) => on('ssm:DeleteParameters', parameterArn(s, n))),
  'ssm:LabelParameterVersion': (s) => [on('ssm:LabelParameterVersion', parameterArn(s, str(s.call.input.Name)))],
  'ssm:DescribeParameters': anywhere('ssm:DescribeParameters'),
  // Run Command: the document, and every instance it runs on (with the instance's tags).
  'ssm:SendCommand': (s) => sendCommand(s),
  'ssm:GetCommandInvocation': anywhere('ssm:GetCommandInvocation'),
  'ssm:ListCommands': anywhere('ssm:ListCommands'),
  'ssm:ListCommandInvocations': anywhere('ssm:ListCommandInvocations'),
  'ssm:DescribeInstanceInformation': anywhere('ssm:DescribeInstanceInformation'),
  // RDS: the DB instance (db:* when the request names none), with its tags.
  'rds:DescribeDBInstances': (s) => database(s, 'rds:DescribeDBInstances'),
  'rds:ModifyDBInstance': (s) => database(s, 'rds:ModifyDBInstance'),
  'rds:StopDBInstance': (s) => database(s, 'rds:StopDBInstance'),
  'rds:StartDBInstance': (s) => database(s, 'rds:StartDBInstance'),
  'rds:RebootDBInstance': (s) => database(s, 'rds:RebootDBInstance'),
  'rds:DeleteDBInstance': (s) => database(s, 'rds:DeleteDBInstance'),
  // EC2: Describe* have no resource-level scoping ("*", the default); changes name their resources.
  'ec2:StopInstances': (s) => ec2Resources(s, 'ec2:StopInstances', 'instance', queryList(s.call.input, 'InstanceId')),
  'ec2:StartInstances': (s) => ec2Resources(s, 'ec2:StartInstances', 'instance', queryList(s.call.input, 'InstanceId')),
  'ec2:RebootInstances': (s) => ec2Resources(s, 'ec2:RebootInstances', 'instance', queryList(s.call.input, 'InstanceId')),
  'ec2:TerminateInstances': (s) => ec2Resources(s, 'ec2:TerminateInstances', 'instance', queryList(s.call.input, 'InstanceId')),
  'ec2:AuthorizeSecurityGroupIngress': (s) => ec2Resources(s, 'ec2:AuthorizeSecurityGroupIngress', 'security-group', [str(s.call.input.GroupId)]),
  'ec2:RevokeSecurityGroupIngress': (s) => ec2Resources(s, 'ec2:RevokeSecurityGroupIngress', 'security-group', [str(s.call.input.GroupId)]),
  'ec2:AuthorizeSecurityGroupEgress': (s) => ec2Resources(s, 'ec2:AuthorizeSecurityGroupEgress', 'security-group', [str(s.call.input.GroupId)]),
  'ec2:RevokeSecurityGroupEgress': (s) => ec2Resources(s, 'ec2:RevokeSecurityGroupEgress', 'security-group', [str(s.call.input.GroupId)]),
  // IAM: the role, user, instance profile or policy the request names.
  'iam:GetInstanceProfile': (s) => [on('iam:GetInstanceProfile', iamArn(s, `instance-profile/${str(s.call.input.InstanceProfileName)}`))],
  'iam:SimulatePrincipalPolicy': (s) => [on('iam:SimulatePrincipalPolicy', str(s.call.input.PolicySourceArn) || '*')],
  'iam:CreateRole': (s) => [on('iam:CreateRole', iamArn(s, `role${str(s.call.input.Path) || '/'}${str(s.call.input.RoleName)}`))],
  ...Object.fromEntries(
    [
      'GetRole',
      'DeleteRole',
      'GetRolePolicy',
      'PutRolePolicy',
      'DeleteRolePolicy',
      'ListRolePolicies',
      'ListAttachedRolePolicies',
      'AttachRolePolicy',
      'DetachRolePolicy',
      'UpdateAssumeRolePolicy',
      'PutRolePermissionsBoundary',
      'DeleteRolePermissionsBoundary',
      'TagRole',
      'UntagRole',
    ].map((action): [string, Rule] => [`iam:${action}`, (s) => roleNamed(s, `iam:${action}`)]),
  ),
  ...Object.fromEntries(
    ['GetUser', 'CreateUser', 'DeleteUser', 'GetUserPolicy', 'PutUserPolicy', 'DeleteUserPolicy', 'AttachUserPolicy', 'DetachUserPolicy', 'CreateAccessKey', 'DeleteAccessKey', 'ListAccessKeys'].map(
      (action): [string, Rule] => [`iam:${action}`, (s) => [on(`iam:${action}`, iamArn(s, `user/${str(s.call.input.UserName)}`))]],
    ),
  ),
  ...Object.fromEntries(
    ['GetPolicy', 'GetPolicyVersion', 'CreatePolicyVersion', 'DeletePolicyVersion', 'DeletePolicy', 'ListPolicyVersions'].map((action): [string, Rule] => [
      `iam:${action}`,
      (s) => [on(`iam:${action}`, str(s.call.input.PolicyArn) || '*')],
    ]),
  ),
  'iam:CreatePolicy': (s) => [on('iam:CreatePolicy', iamArn(s, `policy${str(s.call.input.Path) || '/'}${str(s.call.input.PolicyName)}`))],
  // STS: GetCallerIdentity is never denied; AssumeRole needs the role's trust policy to agree.
  'sts:GetCallerIdentity': () => [],
  'sts:AssumeRole': (s) => assumeRole(s),
  // KMS called directly: the key (its key policy must allow too).
  'kms:Decrypt': (s) => kmsKey(s, 'kms:Decrypt'),
  'kms:Encrypt': (s) => kmsKey(s, 'kms:Encrypt'),
  'kms:GenerateDataKey': (s) => kmsKey(s, 'kms:GenerateDataKey'),
  'kms:GenerateDataKeyWithoutPlaintext': (s) => kmsKey(s, 'kms:GenerateDataKeyWithoutPlaintext'),
  'kms:DescribeKey': (s) => kmsKey(s, 'kms:DescribeKey'),
  'kms:GetKeyPolicy': (s) => kmsKey(s, 'kms:GetKeyPolicy'),
  'kms:PutKeyPolicy': (s) => kmsKey(s, 'kms:PutKeyPolicy'),
  // CloudFormation: the stack.
  ...Object.fromEntries(
    ['CreateStack', 'UpdateStack', 'DeleteStack', 'DescribeStacks', 'DescribeStackEvents', 'DescribeStackResources', 'ListStackResources', 'GetTemplate'].map(
      (action): [string, Rule] => [`cloudformation:${action}`, (s) => [on(`cloudformation:${action}`, stackArn(s, str(s.call.input.StackName)))]],
    ),
  ),
};

/** The authorizations one call needs, in the order AWS would check them. */
export async function authorizationsFor(scope: CallScope): Promise<Authorization[]> {
  const action = `${scope.call.service}:${scope.call.action}`;
  const rule = AUTHORIZATION_RULES[action];
  return rule ? rule(scope) : [on(action, '*')];
}

// ---- Systems Manager ----

export function parameterArn(s: CallScope, nameOrArn: string): string {
  const name = parameterName(nameOrArn);
  return arn(s, 'ssm', `parameter${name.startsWith('/') ? '' : '/'}${name}`);
}

/** A parameter's name without a version or label selector ("/linkbox/db-password:3" → "/linkbox/db-password"). */
function parameterName(nameOrArn: string): string {
  const name = nameOrArn.startsWith('arn:') ? nameOrArn.replace(/^arn:[^:]*:ssm:[^:]*:[^:]*:parameter/, '') : nameOrArn;
  return name.replace(/:[^/:]+$/, '');
}

async function readParameters(s: CallScope, action: string, names: string[]): Promise<Authorization[]> {
  const checks = names.map((n) => on(action, parameterArn(s, n)));
  if (s.call.input.WithDecryption !== true) return checks;
  const secure = (await s.world.parameters(s.call.region, names.map(parameterName))).filter((p) => p.type === 'SecureString');
  return [...checks, ...(await viaSsm(s, 'kms:Decrypt', secure))];
}

async function readPath(s: CallScope): Promise<Authorization[]> {
  const path = str(s.call.input.Path);
  const checks = [on('ssm:GetParametersByPath', parameterArn(s, path.replace(/\/+$/, '') || '/'))];
  if (s.call.input.WithDecryption !== true) return checks;
  const secure = (await s.world.parametersUnderPath(s.call.region, path, s.call.input.Recursive === true)).filter((p) => p.type === 'SecureString');
  return [...checks, ...(await viaSsm(s, 'kms:Decrypt', secure))];
}

async function writeParameter(s: CallScope): Promise<Authorization[]> {
  const name = str(s.call.input.Name);
  const checks = [on('ssm:PutParameter', parameterArn(s, name))];
  const existing = (await s.world.parameters(s.call.region, [parameterName(name)]))[0];
  const type = str(s.call.input.Type) || existing?.type;
  if (type !== 'SecureString') return checks;
  // Standard parameters are encrypted with kms:Encrypt, advanced ones with a data key.
  const action = s.call.input.Tier === 'Advanced' ? 'kms:GenerateDataKey' : 'kms:Encrypt';
  return [...checks, ...(await viaSsm(s, action, [{ name: parameterName(name), keyId: str(s.call.input.KeyId) || undefined }]))];
}

/** KMS as SSM calls it for the caller: kms:ViaService, and the parameter's ARN as encryption context. */
async function viaSsm(s: CallScope, action: string, parameters: Array<{ name: string; keyId: string | undefined }>): Promise<Authorization[]> {
  const out: Authorization[] = [];
  for (const p of parameters) {
    const key = await s.world.key(s.call.region, p.keyId || 'alias/aws/ssm');
    const resource = key?.arn ?? arn(s, 'kms', `key/${p.keyId ?? 'alias/aws/ssm'}`);
    out.push({
      action,
      resource,
      context: {
        'kms:ViaService': `ssm.${s.call.region}.amazonaws.com`,
        'kms:CallerAccount': s.accountId,
        'kms:EncryptionContext:PARAMETER_ARN': parameterArn(s, p.name),
        'kms:EncryptionContextKeys': ['PARAMETER_ARN'],
        'aws:ViaAWSService': 'true',
      },
      resourcePolicy: { kind: 'key-policy', source: key ? { id: 'key policy', type: 'resource', document: key.policy } : null },
      onBehalfOf: 'ssm',
    });
  }
  return out;
}

async function sendCommand(s: CallScope): Promise<Authorization[]> {
  const document = str(s.call.input.DocumentName);
  const documentArn = document.startsWith('arn:')
    ? document
    : // Documents AWS owns (AWS-RunShellScript) have no account in their ARN.
      `arn:${partition(s)}:ssm:${s.call.region}:${document.startsWith('AWS-') ? '' : s.accountId}:document/${document}`;
  const ids = Array.isArray(s.call.input.InstanceIds)
    ? s.call.input.InstanceIds.map(String)
    : Array.isArray(s.call.input.Targets)
      ? await s.world.instancesByTargets(s.call.region, s.call.input.Targets as Array<{ Key?: string; Values?: string[] }>)
      : [];
  const facts = await s.world.instances(s.call.region, ids);
  return [
    on('ssm:SendCommand', documentArn),
    ...ids.map((id) => {
      const tags = facts.get(id)?.tags ?? {};
      return on('ssm:SendCommand', arn(s, 'ec2', `instance/${id}`), {
        ...tagContext('ssm:resourceTag', tags),
        ...tagContext('aws:ResourceTag', tags),
      });
    }),
  ];
}

// ---- RDS, EC2 ----

async function database(s: CallScope, action: string): Promise<Authorization[]> {
  const id = str(s.call.input.DBInstanceIdentifier);
  if (!id) return [on(action, arn(s, 'rds', 'db:*'))];
  const resource = id.startsWith('arn:') ? id : arn(s, 'rds', `db:${id}`);
  const tags = await s.world.dbTags(s.call.region, resource);
  return [on(action, resource, { ...tagContext('rds:db-tag', tags), ...tagContext('aws:ResourceTag', tags) })];
}

async function ec2Resources(s: CallScope, action: string, type: 'instance' | 'security-group', ids: string[]): Promise<Authorization[]> {
  const named = ids.filter(Boolean);
  if (named.length === 0) return [on(action, '*')];
  const tags = await s.world.ec2Tags(s.call.region, named);
  return named.map((id) => {
    const own = tags.get(id) ?? {};
    return on(action, arn(s, 'ec2', `${type}/${id}`), { ...tagContext('aws:ResourceTag', own), ...tagContext('ec2:ResourceTag', own) });
  });
}

// ---- IAM, STS ----

async function roleNamed(s: CallScope, action: string): Promise<Authorization[]> {
  const name = str(s.call.input.RoleName);
  const role = name ? await s.role(name) : undefined;
  return [on(action, role?.arn ?? iamArn(s, `role/${name}`))];
}

async function assumeRole(s: CallScope): Promise<Authorization[]> {
  const roleArn = str(s.call.input.RoleArn);
  const match = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  const role = match && match[1] === s.accountId ? await s.role(match[2]!) : undefined;
  const context: RequestContext = { 'sts:RoleSessionName': str(s.call.input.RoleSessionName) };
  if (typeof s.call.input.ExternalId === 'string') context['sts:ExternalId'] = s.call.input.ExternalId;
  return [{ action: 'sts:AssumeRole', resource: roleArn, context, resourcePolicy: { kind: 'trust-policy', source: role && role.arn === roleArn ? role.trust : null } }];
}

// ---- KMS ----

async function kmsKey(s: CallScope, action: string): Promise<Authorization[]> {
  const keyId = str(s.call.input.KeyId) || keyIdInCiphertext(s.call.input.CiphertextBlob);
  if (!keyId) return [on(action, '*')];
  const key = await s.world.key(s.call.region, keyId);
  const encryptionContext = s.call.input.EncryptionContext && typeof s.call.input.EncryptionContext === 'object' ? (s.call.input.EncryptionContext as Record<string, string>) : {};
  const context: RequestContext = { 'kms:CallerAccount': s.accountId };
  for (const [k, v] of Object.entries(encryptionContext)) context[`kms:EncryptionContext:${k}`] = String(v);
  if (Object.keys(encryptionContext).length > 0) context['kms:EncryptionContextKeys'] = Object.keys(encryptionContext);
  return [
    {
      action,
      resource: key?.arn ?? arn(s, 'kms', `key/${keyId}`),
      context,
      resourcePolicy: { kind: 'key-policy', source: key ? { id: 'key policy', type: 'resource', document: key.policy } : null },
    },
  ];
}

/** moto's ciphertext blobs start with the key id, as AWS's carry it (opaquely). */
function keyIdInCiphertext(blob: unknown): string {
  if (typeof blob !== 'string') return '';
  const head = Buffer.from(blob, 'base64').subarray(0, 36).toString('latin1');
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(head) ? head : '';
}

// ---- helpers ----

function stackArn(s: CallScope, nameOrArn: string): string {
  if (!nameOrArn) return '*';
  return nameOrArn.startsWith('arn:') ? nameOrArn : arn(s, 'cloudformation', `stack/${nameOrArn}/*`);
}

function partition(s: CallScope): string {
  if (s.call.region.startsWith('cn-')) return 'aws-cn';
  if (s.call.region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

function arn(s: CallScope, service: string, resource: string): string {
  return `arn:${partition(s)}:${service}:${s.call.region}:${s.accountId}:${resource}`;
}

function iamArn(s: CallScope, resource: string): string {
  return `arn:${partition(s)}:iam::${s.accountId}:${resource}`;
}

function tagContext(prefix: string, tags: Record<string, string>): RequestContext {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

/** EC2's query lists: `InstanceId.1`, `InstanceId.2`, ... */
function queryList(input: Record<string, unknown>, name: string): string[] {
  return Object.entries(input)
    .flatMap(([k, v]) => {
      const m = new RegExp(`^${name}\\.(\\d+)$`).exec(k);
      return m && typeof v === 'string' ? [[Number(m[1]), v] as const] : [];
    })
    .sort((a, b) => a[0] - b[0])
    .map(([, v]) => v);
}
