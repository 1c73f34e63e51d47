import { describe, expect, test } from 'vitest';
import type { AwsCall } from '@/infra/lab/contract';
import { createRequestCounters } from '@/infra/lab/gateway/counters';
import { authorizationsFor, type CallScope } from '@/infra/lab/iam/actions';
import { denialMessage, denialReply } from '@/infra/lab/iam/denials';
import { createIamEnforcer } from '@/infra/lab/iam/enforcer';
import type { RolePolicies } from '@/infra/lab/iam/policies';
import type { World } from '@/infra/lab/iam/world';

// What each API call is authorized as — the IAM action, the resource ARN, the condition keys —
// after the Service Authorization Reference, with the resources' facts from a stand-in for moto;
// and how a refusal reads in each service's dialect.

const ACCOUNT = '123456789012';
const KEY_ARN = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0b5c8f4e-3a5e-4a52-9d7a-2f7d5b1e6c11`;
const KEY_POLICY = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] });

const world: World = {
  accountId: async () => ACCOUNT,
  parameters: async (_region, names) =>
    names
      .filter((n) => n.startsWith('/linkbox/'))
      .map((name) => ({ name, type: name.endsWith('db-password') ? 'SecureString' : 'String', keyId: name.endsWith('db-password') ? 'alias/aws/ssm' : undefined })),
  parametersUnderPath: async () => [
    { name: '/linkbox/db-endpoint', type: 'String', keyId: undefined },
    { name: '/linkbox/db-password', type: 'SecureString', keyId: 'alias/aws/ssm' },
  ],
  key: async () => ({ arn: KEY_ARN, policy: KEY_POLICY }),
  instances: async (_region, ids) => new Map(ids.map((id) => [id, { tags: { Name: 'linkbox-backend', Project: 'linkbox' }, instanceProfileArn: undefined }])),
  instancesByTargets: async () => ['i-0aaa', 'i-0bbb'],
  ec2Tags: async (_region, ids) => new Map(ids.map((id) => [id, { Name: 'linkbox-db-sg' }])),
  dbTags: async () => ({ Project: 'linkbox' }),
  iam: undefined as never,
  stop: () => undefined,
};

const role: RolePolicies = {
  arn: `arn:aws:iam::${ACCOUNT}:role/linkbox-ops-console`,
  identity: [],
  boundary: null,
  trust: { id: 'AssumeRolePolicyDocument', type: 'resource', document: '{"Statement":[]}' },
};

function call(service: string, action: string, input: Record<string, unknown>): AwsCall {
  return { service, action, region: 'us-east-1', protocol: service === 'ssm' || service === 'kms' ? 'json' : 'query', input, accessKeyId: 'ASIATEST' };
}

const scope = (c: AwsCall): CallScope => ({ call: c, accountId: ACCOUNT, world, role: async (name) => (name === 'linkbox-ops-console' ? role : undefined) });
const authorize = (c: AwsCall) => authorizationsFor(scope(c));
const parameter = (name: string) => `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter${name}`;
const viaSsm = (name: string) => ({
  'kms:ViaService': 'ssm.us-east-1.amazonaws.com',
  'kms:CallerAccount': ACCOUNT,
  'kms:EncryptionContext:PARAMETER_ARN': parameter(name),
  'kms:EncryptionContextKeys': ['PARAMETER_ARN'],
  'aws:ViaAWSService': 'true',
});

describe('the action → resource and context table', () => {
  test('GetParameters checks every named parameter (selectors dropped), then kms:Decrypt as SSM for each SecureString', async () => {
    const checks = await authorize(call('ssm', 'GetParameters', { Names: ['/linkbox/db-endpoint', '/linkbox/db-password:3'], WithDecryption: true }));
    expect(checks.map(({ action, resource, context, onBehalfOf }) => ({ action, resource, context, onBehalfOf }))).toEqual([
      { action: 'ssm:GetParameters', resource: parameter('/linkbox/db-endpoint'), context: undefined, onBehalfOf: undefined },
      { action: 'ssm:GetParameters', resource: parameter('/linkbox/db-password'), context: undefined, onBehalfOf: undefined },
      { action: 'kms:Decrypt', resource: KEY_ARN, context: viaSsm('/linkbox/db-password'), onBehalfOf: 'ssm' },
    ]);
    expect(checks[2]!.resourcePolicy).toEqual({ kind: 'key-policy', source: { id: 'key policy', type: 'resource', document: KEY_POLICY } });
  });

  test('without decryption no key is involved; a name without a leading slash still makes a parameter ARN', async () => {
    expect(await authorize(call('ssm', 'GetParameter', { Name: 'plain' }))).toEqual([{ action: 'ssm:GetParameter', resource: parameter('/plain') }]);
  });

  test('GetParametersByPath is checked on the path, and decrypts what it returns', async () => {
    const checks = await authorize(call('ssm', 'GetParametersByPath', { Path: '/linkbox/', WithDecryption: true }));
    expect(checks.map((c) => [c.action, c.resource])).toEqual([
      ['ssm:GetParametersByPath', parameter('/linkbox')],
      ['kms:Decrypt', KEY_ARN],
    ]);
  });

  test('writing a SecureString needs kms:Encrypt (standard tier) or kms:GenerateDataKey (advanced) as SSM', async () => {
    const standard = await authorize(call('ssm', 'PutParameter', { Name: '/linkbox/db-password-pending', Type: 'SecureString', Value: 'x' }));
    expect(standard.map((c) => [c.action, c.resource, c.context?.['kms:ViaService']])).toEqual([
      ['ssm:PutParameter', parameter('/linkbox/db-password-pending'), undefined],
      ['kms:Encrypt', KEY_ARN, 'ssm.us-east-1.amazonaws.com'],
    ]);
    const advanced = await authorize(call('ssm', 'PutParameter', { Name: '/linkbox/big', Type: 'SecureString', Tier: 'Advanced', Value: 'x' }));
    expect(advanced[1]!.action).toBe('kms:GenerateDataKey');
    // Overwriting an existing SecureString without a Type still encrypts.
    expect((await authorize(call('ssm', 'PutParameter', { Name: '/linkbox/db-password', Value: 'x', Overwrite: true }))).map((c) => c.action)).toEqual(['ssm:PutParameter', 'kms:Encrypt']);
  });

  test('DescribeParameters and the Run Command reads have no resource-level scoping', async () => {
    for (const action of ['DescribeParameters', 'GetCommandInvocation', 'ListCommands', 'ListCommandInvocations', 'DescribeInstanceInformation']) {
      expect(await authorize(call('ssm', action, {}))).toEqual([{ action: `ssm:${action}`, resource: '*' }]);
    }
  });

  test('SendCommand is checked on the document (no account for AWS-owned ones) and on each instance with its tags', async () => {
    const checks = await authorize(call('ssm', 'SendCommand', { DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-0aaa'], Parameters: { commands: ['true'] } }));
    expect(checks).toEqual([
      { action: 'ssm:SendCommand', resource: 'arn:aws:ssm:us-east-1::document/AWS-RunShellScript' },
      {
        action: 'ssm:SendCommand',
        resource: `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0aaa`,
        context: {
          'ssm:resourceTag/Name': 'linkbox-backend',
          'ssm:resourceTag/Project': 'linkbox',
          'aws:ResourceTag/Name': 'linkbox-backend',
          'aws:ResourceTag/Project': 'linkbox',
        },
      },
    ]);
    const targeted = await authorize(call('ssm', 'SendCommand', { DocumentName: 'my-doc', Targets: [{ Key: 'tag:Name', Values: ['linkbox-backend'] }] }));
    expect(targeted.map((c) => c.resource)).toEqual([
      `arn:aws:ssm:us-east-1:${ACCOUNT}:document/my-doc`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0aaa`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0bbb`,
    ]);
  });

  test('RDS is checked on the DB instance with rds:db-tag, or db:* when the request names none', async () => {
    expect(await authorize(call('rds', 'DescribeDBInstances', { DBInstanceIdentifier: 'linkbox-db' }))).toEqual([
      { action: 'rds:DescribeDBInstances', resource: `arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-db`, context: { 'rds:db-tag/Project': 'linkbox', 'aws:ResourceTag/Project': 'linkbox' } },
    ]);
    expect(await authorize(call('rds', 'DescribeDBInstances', {}))).toEqual([{ action: 'rds:DescribeDBInstances', resource: `arn:aws:rds:us-east-1:${ACCOUNT}:db:*` }]);
    expect((await authorize(call('rds', 'ModifyDBInstance', { DBInstanceIdentifier: 'linkbox-db' })))[0]!.resource).toBe(`arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-db`);
  });

  test('EC2 reads are checked on "*", changes on the resources they name', async () => {
    expect(await authorize(call('ec2', 'DescribeInstances', {}))).toEqual([{ action: 'ec2:DescribeInstances', resource: '*' }]);
    expect((await authorize(call('ec2', 'StopInstances', { 'InstanceId.1': 'i-0aaa', 'InstanceId.2': 'i-0bbb' }))).map((c) => c.resource)).toEqual([
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0aaa`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0bbb`,
    ]);
    expect((await authorize(call('ec2', 'RevokeSecurityGroupIngress', { GroupId: 'sg-1' })))[0]).toMatchObject({
      resource: `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-1`,
      context: { 'aws:ResourceTag/Name': 'linkbox-db-sg', 'ec2:ResourceTag/Name': 'linkbox-db-sg' },
    });
  });

  test('IAM is checked on the instance profile, the simulated principal, the role', async () => {
    expect(await authorize(call('iam', 'GetInstanceProfile', { InstanceProfileName: 'linkbox-backend-profile' }))).toEqual([
      { action: 'iam:GetInstanceProfile', resource: `arn:aws:iam::${ACCOUNT}:instance-profile/linkbox-backend-profile` },
    ]);
    const backendRole = `arn:aws:iam::${ACCOUNT}:role/linkbox-backend-role`;
    expect(await authorize(call('iam', 'SimulatePrincipalPolicy', { PolicySourceArn: backendRole }))).toEqual([{ action: 'iam:SimulatePrincipalPolicy', resource: backendRole }]);
    expect(await authorize(call('iam', 'PutRolePolicy', { RoleName: 'linkbox-ops-console' }))).toEqual([{ action: 'iam:PutRolePolicy', resource: role.arn }]);
  });

  test('STS: GetCallerIdentity needs nothing; AssumeRole is checked on the role with its trust policy and the external id', async () => {
    expect(await authorize(call('sts', 'GetCallerIdentity', {}))).toEqual([]);
    expect(await authorize(call('sts', 'AssumeRole', { RoleArn: role.arn, RoleSessionName: 'ops', ExternalId: 'xid' }))).toEqual([
      { action: 'sts:AssumeRole', resource: role.arn, context: { 'sts:RoleSessionName': 'ops', 'sts:ExternalId': 'xid' }, resourcePolicy: { kind: 'trust-policy', source: role.trust } },
    ]);
    // A role that does not exist has no trust policy, which nothing satisfies.
    const missing = await authorize(call('sts', 'AssumeRole', { RoleArn: `arn:aws:iam::${ACCOUNT}:role/nobody`, RoleSessionName: 'x' }));
    expect(missing[0]!.resourcePolicy).toEqual({ kind: 'trust-policy', source: null });
  });

  test('an action without a row is checked on "*"', async () => {
    expect(await authorize(call('ec2', 'DescribeVpcs', {}))).toEqual([{ action: 'ec2:DescribeVpcs', resource: '*' }]);
  });
});

describe('refusals in each service\'s words', () => {
  const who = `arn:aws:sts::${ACCOUNT}:assumed-role/linkbox-ops-console/ops`;
  const base = { principalArn: who, principalId: 'linkbox-ops-console:ops', context: {} };

  test('implicit and explicit denials, and "*" resources named by no "on resource"', () => {
    expect(denialMessage({ ...base, action: 'ssm:GetParameter', resource: parameter('/x'), reason: { kind: 'implicit', by: 'identity-based policy' } })).toBe(
      `User: ${who} is not authorized to perform: ssm:GetParameter on resource: ${parameter('/x')} because no identity-based policy allows the ssm:GetParameter action`,
    );
    expect(denialMessage({ ...base, action: 'ssm:GetParameter', resource: parameter('/x'), reason: { kind: 'explicit', by: 'identity-based policy' } })).toBe(
      `User: ${who} is not authorized to perform: ssm:GetParameter on resource: ${parameter('/x')} with an explicit deny in an identity-based policy`,
    );
    expect(denialMessage({ ...base, action: 'ec2:DescribeVpcs', resource: '*', reason: { kind: 'implicit', by: 'permissions boundary' } })).toBe(
      `User: ${who} is not authorized to perform: ec2:DescribeVpcs because no permissions boundary allows the ec2:DescribeVpcs action`,
    );
  });

  test('SSM answers JSON 400, RDS/IAM/STS query XML 403, EC2 UnauthorizedOperation 403', () => {
    const deny = (service: string, action: string) =>
      denialReply({ ...base, call: call(service, action, {}), action: `${service}:${action}`, resource: '*', reason: { kind: 'implicit', by: 'identity-based policy' } });
    const ssm = deny('ssm', 'DescribeParameters');
    expect(ssm.status).toBe(400);
    expect(JSON.parse(ssm.body)).toEqual({ __type: 'AccessDeniedException', message: expect.stringContaining('ssm:DescribeParameters') });
    for (const service of ['rds', 'iam', 'sts']) {
      const xml = deny(service, 'Anything');
      expect(xml.status).toBe(403);
      expect(xml.body).toContain('<Type>Sender</Type><Code>AccessDenied</Code>');
    }
    const ec2 = deny('ec2', 'DescribeVpcs');
    expect(ec2.status).toBe(403);
    expect(ec2.body).toContain('<Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation. User: ');
  });
});

describe('the switch', () => {
  test('with enforceIam off every call passes without a single look-up', async () => {
    const enforcer = createIamEnforcer({ motoUrl: 'http://127.0.0.1:9', enforce: false, counters: createRequestCounters(), log: () => undefined });
    try {
      expect(await enforcer.authorize(call('ssm', 'GetParameters', { Names: ['/linkbox/db-password'], WithDecryption: true }))).toBeUndefined();
      expect(enforcer.state()).toEqual({ enforced: false, boundAccessKeys: {} });
    } finally {
      enforcer.stop();
    }
  });
});
