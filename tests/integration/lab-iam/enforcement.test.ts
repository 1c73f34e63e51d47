import { CreateTagsCommand, DescribeSecurityGroupsCommand, DescribeVpcsCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import {
  DeleteParameterCommand,
  DescribeInstanceInformationCommand,
  DescribeParametersCommand,
  GetCommandInvocationCommand,
  GetParametersCommand,
  PutParameterCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, DecodeAuthorizationMessageCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { awsCli, eventually, labApi, startTestLab, type TestLab } from '../support/lab';

// IAM enforced by the lab, seen the way the console and the backends meet it: the console runs as
// a least-privilege role it assumes with an external id, the backends read SSM as their instance
// profile's role, and every refusal is AWS's own AccessDenied in the service's dialect, naming the
// action that was missing. One lab for the file; every test puts back what it changed.

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const EXTERNAL_ID = 'lab-iam-external-id';
const BACKEND_ROLE = 'linkbox-backend-role';
const START_SCRIPT = '/opt/codedeploy-agent/deployment-root/d-LAB/deployment-archive/scripts/start_application.sh';

interface Statement {
  Sid: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string;
  Condition?: Record<string, Record<string, string>>;
}

/** The console's role as its deployment would grant it: its calls, on its resources, nothing more. */
const CONSOLE_STATEMENTS: Statement[] = [
  { Sid: 'ReadParameters', Effect: 'Allow', Action: ['ssm:GetParameters', 'ssm:GetParameter'], Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/linkbox/*` },
  { Sid: 'WriteParameters', Effect: 'Allow', Action: ['ssm:PutParameter', 'ssm:DeleteParameter'], Resource: `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/linkbox/*` },
  { Sid: 'DescribeParameters', Effect: 'Allow', Action: 'ssm:DescribeParameters', Resource: '*' },
  {
    Sid: 'SecureStringsViaSsm',
    Effect: 'Allow',
    Action: ['kms:Decrypt', 'kms:Encrypt'],
    Resource: `arn:aws:kms:${REGION}:${ACCOUNT}:key/*`,
    Condition: { StringEquals: { 'kms:ViaService': `ssm.${REGION}.amazonaws.com` } },
  },
  { Sid: 'RunShellScript', Effect: 'Allow', Action: 'ssm:SendCommand', Resource: `arn:aws:ssm:${REGION}::document/AWS-RunShellScript` },
  {
    Sid: 'RunOnBackends',
    Effect: 'Allow',
    Action: 'ssm:SendCommand',
    Resource: `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/*`,
    Condition: { StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend' } },
  },
  { Sid: 'CommandResults', Effect: 'Allow', Action: ['ssm:GetCommandInvocation', 'ssm:DescribeInstanceInformation'], Resource: '*' },
  { Sid: 'Database', Effect: 'Allow', Action: ['rds:DescribeDBInstances', 'rds:ModifyDBInstance'], Resource: `arn:aws:rds:${REGION}:${ACCOUNT}:db:linkbox-db` },
  { Sid: 'Network', Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeSecurityGroups'], Resource: '*' },
  { Sid: 'InstanceProfile', Effect: 'Allow', Action: 'iam:GetInstanceProfile', Resource: `arn:aws:iam::${ACCOUNT}:instance-profile/linkbox-backend-profile` },
  { Sid: 'SimulateBackendRole', Effect: 'Allow', Action: 'iam:SimulatePrincipalPolicy', Resource: `arn:aws:iam::${ACCOUNT}:role/${BACKEND_ROLE}` },
];
const consolePolicy = (statements = CONSOLE_STATEMENTS) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

const ADMIN = { accessKeyId: 'LABIAMTEST', secretAccessKey: 'lab-not-a-secret' };

let lab: TestLab;
let roleArn: string;
let sessionKeyId: string;
const as: { ssm: SSMClient; rds: RDSClient; ec2: EC2Client; iam: IAMClient; sts: STSClient; kms: KMSClient } = {} as never;
const admin: { ssm: SSMClient; ec2: EC2Client; iam: IAMClient; sts: STSClient } = {} as never;

beforeAll(async () => {
  lab = await startTestLab({ consoleRole: { name: 'linkbox-ops-console', policyDocument: consolePolicy(), externalId: EXTERNAL_ID } });
  roleArn = lab.iam.consoleRole!.roleArn;
  const common = { region: lab.region, endpoint: lab.awsEndpoint, maxAttempts: 1 };
  const source = new STSClient({ ...common, credentials: { accessKeyId: lab.iam.consoleRole!.sourceAccessKeyId, secretAccessKey: 'lab-not-a-secret' } });
  const assumed = await source.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: lab.iam.consoleRole!.sessionName, ExternalId: EXTERNAL_ID }));
  source.destroy();
  const credentials = {
    accessKeyId: assumed.Credentials!.AccessKeyId!,
    secretAccessKey: assumed.Credentials!.SecretAccessKey!,
    sessionToken: assumed.Credentials!.SessionToken!,
  };
  sessionKeyId = credentials.accessKeyId;
  Object.assign(as, {
    ssm: new SSMClient({ ...common, credentials }),
    rds: new RDSClient({ ...common, credentials }),
    ec2: new EC2Client({ ...common, credentials }),
    iam: new IAMClient({ ...common, credentials }),
    sts: new STSClient({ ...common, credentials }),
    kms: new KMSClient({ ...common, credentials }),
  });
  Object.assign(admin, {
    ssm: new SSMClient({ ...common, credentials: ADMIN }),
    ec2: new EC2Client({ ...common, credentials: ADMIN }),
    iam: new IAMClient({ ...common, credentials: ADMIN }),
    sts: new STSClient({ ...common, credentials: ADMIN }),
  });
});

afterAll(() => {
  for (const client of [...Object.values(as), ...Object.values(admin)]) client?.destroy();
});

const session = () => `arn:aws:sts::${ACCOUNT}:assumed-role/linkbox-ops-console/${lab.iam.consoleRole!.sessionName}`;
const parameterArn = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`;
const NAMES = ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((n) => `/linkbox/${n}`);

async function withConsolePolicy<T>(statements: Statement[], body: () => Promise<T>): Promise<T> {
  const put = (document: string) => admin.iam.send(new PutRolePolicyCommand({ RoleName: 'linkbox-ops-console', PolicyName: 'linkbox-ops-console-permissions', PolicyDocument: document }));
  await put(consolePolicy(statements));
  try {
    return await body();
  } finally {
    await put(consolePolicy());
  }
}

async function commandResult(ssm: SSMClient, commandId: string, instanceId: string): Promise<GetCommandInvocationCommandOutput> {
  return eventually(
    async () => {
      const out = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId })).catch(() => undefined);
      return out && (out.Status === 'Success' || out.Status === 'Failed') ? out : undefined;
    },
    `command ${commandId} on ${instanceId}`,
    90_000,
  );
}

describe('the console as a role it assumes', () => {
  test('the lab reports the role, writes assume-role credentials into the console config, and binds LABCONSOLE to a source that may only assume it', async () => {
    const state = await labApi<{ iam: TestLab['iam'] }>(lab, 'GET', '/_lab/state');
    expect(state.body.iam).toEqual({
      enforced: true,
      boundAccessKeys: { LABCONSOLE: `arn:aws:iam::${ACCOUNT}:user/linkbox-ops-console-source` },
      consoleRole: {
        roleName: 'linkbox-ops-console',
        roleArn: `arn:aws:iam::${ACCOUNT}:role/linkbox-ops-console`,
        externalId: EXTERNAL_ID,
        sessionName: 'linkbox-ops-console',
        sourceAccessKeyId: 'LABCONSOLE',
        sourcePrincipalArn: `arn:aws:iam::${ACCOUNT}:user/linkbox-ops-console-source`,
      },
    });
    const config = JSON.parse(await readFile(lab.configPath, 'utf8')) as { environments: Array<{ name: string; credentials: unknown; endpoint?: string }> };
    expect(config.environments.find((e) => e.name === 'production')).toMatchObject({
      endpoint: lab.awsEndpoint,
      credentials: { source: 'assume-role', roleArn, externalId: EXTERNAL_ID, sessionName: 'linkbox-ops-console' },
    });
  });

  test('the console\'s recipe: fromTemporaryCredentials with LABCONSOLE as source and STS at the lab endpoint', async () => {
    const consoleRole = lab.iam.consoleRole!;
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: consoleRole.roleArn, RoleSessionName: consoleRole.sessionName, ExternalId: consoleRole.externalId ?? undefined },
      masterCredentials: { accessKeyId: consoleRole.sourceAccessKeyId, secretAccessKey: 'lab-not-a-secret' },
      clientConfig: { region: lab.region, endpoint: lab.awsEndpoint },
    });
    const rds = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials, maxAttempts: 1 });
    const sts = new STSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials, maxAttempts: 1 });
    try {
      expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(session());
      expect((await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }))).DBInstances).toHaveLength(1);
      await expect(rds.send(new DescribeDBInstancesCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      rds.destroy();
      sts.destroy();
    }
  });

  test('the assumed session is the role session, as GetCallerIdentity (never denied) says', async () => {
    expect(await as.sts.send(new GetCallerIdentityCommand({}))).toMatchObject({ Account: ACCOUNT, Arn: session() });
  });

  test('the trust policy wants the external id: none, or a wrong one, is AccessDenied on sts:AssumeRole', async () => {
    const source = new STSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABCONSOLE', secretAccessKey: 'x' }, maxAttempts: 1 });
    const refusal = {
      name: 'AccessDenied',
      message: `User: arn:aws:iam::${ACCOUNT}:user/linkbox-ops-console-source is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      $metadata: expect.objectContaining({ httpStatusCode: 403 }),
    };
    await expect(source.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'no-id' }))).rejects.toMatchObject(refusal);
    await expect(source.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'guess', ExternalId: 'guess' }))).rejects.toMatchObject(refusal);
    source.destroy();
  });

  test('the source key itself may do nothing else: a console that forgot to assume the role is refused', async () => {
    const direct = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABCONSOLE', secretAccessKey: 'x' }, maxAttempts: 1 });
    await expect(direct.send(new GetParametersCommand({ Names: NAMES }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: arn:aws:iam::${ACCOUNT}:user/linkbox-ops-console-source is not authorized to perform: ssm:GetParameters on resource: ${parameterArn('/linkbox/db-endpoint')} because no identity-based policy allows the ssm:GetParameters action`,
    });
    direct.destroy();
  });

  test('the role itself may not assume roles: the identity policy is asked when the trust policy names only the account', async () => {
    await expect(as.sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'chained', ExternalId: EXTERNAL_ID }))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${session()} is not authorized to perform: sts:AssumeRole on resource: ${roleArn} because no identity-based policy allows the sts:AssumeRole action`,
    });
  });

  test('every call the console makes is allowed by its policy', async () => {
    const params = await as.ssm.send(new GetParametersCommand({ Names: NAMES, WithDecryption: true }));
    expect(params.Parameters?.map((p) => p.Name).sort()).toEqual([...NAMES].sort());
    await as.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: NAMES }] }));
    await as.ssm.send(new PutParameterCommand({ Name: '/linkbox/lab-iam-probe', Value: 'probe-secret', Type: 'SecureString' }));
    await as.ssm.send(new DeleteParameterCommand({ Name: '/linkbox/lab-iam-probe' }));
    await as.ssm.send(new DescribeInstanceInformationCommand({}));
    const ids = lab.instances.map((i) => i.id);
    const sent = await as.ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: ids, Parameters: { commands: ['docker inspect linkbox-backend'] } }));
    for (const id of ids) expect((await commandResult(as.ssm, sent.Command!.CommandId!, id)).Status).toBe('Success');
    const db = await as.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: lab.rds.instanceId }));
    expect(db.DBInstances?.[0]?.DBInstanceIdentifier).toBe('linkbox-db');
    await as.ec2.send(new DescribeSecurityGroupsCommand({}));
    const profile = await as.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'linkbox-backend-profile' }));
    const simulated = await as.iam.send(
      new SimulatePrincipalPolicyCommand({ PolicySourceArn: profile.InstanceProfile!.Roles![0]!.Arn!, ActionNames: ['ssm:GetParameter'], ResourceArns: [parameterArn('/linkbox/db-password')] }),
    );
    expect(simulated.EvaluationResults?.[0]?.EvalDecision).toBe('allowed');
  });

  // What each statement is for: removing it refuses exactly the call that needs it, naming the action.
  test.each<[string, string, () => Promise<unknown>]>([
    ['ReadParameters', 'ssm:GetParameters', () => as.ssm.send(new GetParametersCommand({ Names: ['/linkbox/db-endpoint'] }))],
    ['WriteParameters', 'ssm:PutParameter', () => as.ssm.send(new PutParameterCommand({ Name: '/linkbox/lab-iam-probe', Value: 'x', Type: 'String', Overwrite: true }))],
    ['DescribeParameters', 'ssm:DescribeParameters', () => as.ssm.send(new DescribeParametersCommand({}))],
    ['SecureStringsViaSsm', 'kms:Decrypt', () => as.ssm.send(new GetParametersCommand({ Names: ['/linkbox/db-password'], WithDecryption: true }))],
    [
      'RunShellScript',
      'ssm:SendCommand',
      () => as.ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [lab.instances[0]!.id], Parameters: { commands: ['true'] } })),
    ],
    [
      'RunOnBackends',
      'ssm:SendCommand',
      () => as.ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [lab.instances[0]!.id], Parameters: { commands: ['true'] } })),
    ],
    ['CommandResults', 'ssm:DescribeInstanceInformation', () => as.ssm.send(new DescribeInstanceInformationCommand({}))],
    ['Database', 'rds:DescribeDBInstances', () => as.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }))],
    ['Network', 'ec2:DescribeSecurityGroups', () => as.ec2.send(new DescribeSecurityGroupsCommand({}))],
    ['InstanceProfile', 'iam:GetInstanceProfile', () => as.iam.send(new GetInstanceProfileCommand({ InstanceProfileName: 'linkbox-backend-profile' }))],
    [
      'SimulateBackendRole',
      'iam:SimulatePrincipalPolicy',
      () => as.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/${BACKEND_ROLE}`, ActionNames: ['ssm:GetParameter'] })),
    ],
  ])('without statement %s the console is refused %s', async (sid, action, call) => {
    await withConsolePolicy(
      CONSOLE_STATEMENTS.filter((s) => s.Sid !== sid),
      async () => {
        const error = await call().then(
          () => undefined,
          (err: Error) => err,
        );
        expect(error?.message).toContain(`User: ${session()} is not authorized to perform: ${action}`);
        expect(error?.message).toContain(`because no identity-based policy allows the ${action} action`);
      },
    );
  });
});

describe('AccessDenied in each service\'s own dialect', () => {
  test('SSM: AccessDeniedException (JSON, 400) naming the parameter ARN', async () => {
    await expect(as.ssm.send(new GetParametersCommand({ Names: ['/other/x'] }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${session()} is not authorized to perform: ssm:GetParameters on resource: ${parameterArn('/other/x')} because no identity-based policy allows the ssm:GetParameters action`,
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
  });

  test('KMS as SSM calls it: the key, kms:ViaService, and KMS\'s refusal passed on by SSM', async () => {
    // The role may decrypt only through SSM, so a direct KMS call is refused by KMS itself.
    const key = await admin.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: ['/linkbox/db-password'] }] }));
    expect(key.Parameters?.[0]?.KeyId).toBe('alias/aws/ssm');
    const error = await as.kms.send(new DescribeKeyCommand({ KeyId: 'alias/aws/ssm' })).catch((err: Error) => err);
    expect(error).toMatchObject({ name: 'AccessDeniedException', $metadata: expect.objectContaining({ httpStatusCode: 400 }) });
    expect((error as Error).message).toMatch(
      new RegExp(`^User: ${escape(session())} is not authorized to perform: kms:DescribeKey on resource: arn:aws:kms:${REGION}:${ACCOUNT}:key/[0-9a-f-]{36} because no identity-based policy allows the kms:DescribeKey action$`),
    );
    await withConsolePolicy(
      CONSOLE_STATEMENTS.map((s) => (s.Sid === 'SecureStringsViaSsm' ? { ...s, Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } } } : s)),
      async () => {
        const refused = await as.ssm.send(new GetParametersCommand({ Names: ['/linkbox/db-password'], WithDecryption: true })).catch((err: Error) => err);
        expect(refused).toMatchObject({ name: 'AccessDeniedException' });
        expect((refused as Error).message).toMatch(
          /is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36} because no identity-based policy allows the kms:Decrypt action \(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: [0-9a-f-]{36}; Proxy: null\)$/,
        );
        // Without decryption no key is involved.
        await as.ssm.send(new GetParametersCommand({ Names: ['/linkbox/db-password'] }));
      },
    );
  });

  test('RDS: AccessDenied (query XML, 403); a request naming no instance is checked on db:*', async () => {
    await expect(as.rds.send(new DescribeDBInstancesCommand({}))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${session()} is not authorized to perform: rds:DescribeDBInstances on resource: arn:aws:rds:${REGION}:${ACCOUNT}:db:* because no identity-based policy allows the rds:DescribeDBInstances action`,
      $metadata: expect.objectContaining({ httpStatusCode: 403 }),
    });
  });

  test('EC2: UnauthorizedOperation (403); a change carries an encoded message that STS decodes', async () => {
    await expect(as.ec2.send(new DescribeVpcsCommand({}))).rejects.toMatchObject({
      name: 'UnauthorizedOperation',
      message: `You are not authorized to perform this operation. User: ${session()} is not authorized to perform: ec2:DescribeVpcs because no identity-based policy allows the ec2:DescribeVpcs action.`,
      $metadata: expect.objectContaining({ httpStatusCode: 403 }),
    });
    const group = (await admin.ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['linkbox-db-sg'] }] }))).SecurityGroups![0]!;
    const error = (await as.ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: group.GroupId, IpPermissions: group.IpPermissions })).catch((err: Error) => err)) as Error;
    expect(error.name).toBe('UnauthorizedOperation');
    const resource = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${group.GroupId}`;
    expect(error.message).toContain(`User: ${session()} is not authorized to perform: ec2:RevokeSecurityGroupIngress on resource: ${resource} because no identity-based policy allows`);
    const encoded = /Encoded authorization failure message: (\S+)$/.exec(error.message)?.[1];
    expect(encoded).toBeDefined();
    // The console's role may not decode it; an admin may.
    await expect(as.sts.send(new DecodeAuthorizationMessageCommand({ EncodedMessage: encoded }))).rejects.toMatchObject({ name: 'AccessDenied' });
    const decoded = JSON.parse((await admin.sts.send(new DecodeAuthorizationMessageCommand({ EncodedMessage: encoded }))).DecodedMessage!);
    expect(decoded).toMatchObject({ allowed: false, explicitDeny: false, context: { principal: { arn: session() }, action: 'ec2:RevokeSecurityGroupIngress', resource } });
    // The rule is still there: the refusal changed nothing.
    const after = await admin.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [group.GroupId!] }));
    expect(after.SecurityGroups![0]!.IpPermissions).toEqual(group.IpPermissions);
  });

  test('IAM: AccessDenied (query XML, 403) on the role ARN', async () => {
    await expect(as.iam.send(new GetRoleCommand({ RoleName: BACKEND_ROLE }))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${session()} is not authorized to perform: iam:GetRole on resource: arn:aws:iam::${ACCOUNT}:role/${BACKEND_ROLE} because no identity-based policy allows the iam:GetRole action`,
      $metadata: expect.objectContaining({ httpStatusCode: 403 }),
    });
  });

  test('SendCommand is checked on the document and on each instance with its tags (ssm:resourceTag)', async () => {
    const [first, second] = lab.instances;
    await admin.ec2.send(new CreateTagsCommand({ Resources: [second!.id], Tags: [{ Key: 'Name', Value: 'not-linkbox' }] }));
    try {
      const error = await as.ssm
        .send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [first!.id, second!.id], Parameters: { commands: ['true'] } }))
        .catch((err: Error) => err);
      expect(error).toMatchObject({
        name: 'AccessDeniedException',
        message: `User: ${session()} is not authorized to perform: ssm:SendCommand on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${second!.id} because no identity-based policy allows the ssm:SendCommand action`,
      });
      await expect(
        as.ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [first!.id], Parameters: { commands: ['true'] } })),
      ).resolves.toMatchObject({ Command: expect.objectContaining({ CommandId: expect.any(String) }) });
    } finally {
      await admin.ec2.send(new CreateTagsCommand({ Resources: [second!.id], Tags: [{ Key: 'Name', Value: 'linkbox-backend' }] }));
    }
  });

  test('denials are counted per caller and IAM action; the lab\'s admin keys stay unrestricted', async () => {
    await labApi(lab, 'DELETE', '/_lab/requests');
    await as.ssm.send(new GetParametersCommand({ Names: ['/other/x'] })).catch(() => undefined);
    await as.ssm.send(new GetParametersCommand({ Names: ['/other/y'] })).catch(() => undefined);
    await admin.iam.send(new GetRoleCommand({ RoleName: BACKEND_ROLE }));
    const counts = (await labApi<{ denied: { total: number; byCaller: Record<string, unknown> } }>(lab, 'GET', '/_lab/requests')).body;
    expect(counts.denied).toEqual({ total: 2, byCaller: { [sessionKeyId]: { principal: session(), total: 2, byAction: { 'ssm:GetParameters': 2 } } } });
  });
});

describe('the backends read SSM as their instance profile\'s role', () => {
  const deny = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ssm:GetParameter*', Resource: '*' }] });

  async function startApplication(instanceId: string): Promise<GetCommandInvocationCommandOutput> {
    const sent = await admin.ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [instanceId], Parameters: { commands: [`bash ${START_SCRIPT}`] } }));
    return commandResult(admin.ssm, sent.Command!.CommandId!, instanceId);
  }

  test('a Deny put on the role with the AWS CLI stops start_application.sh with AWS\'s AccessDenied; removing it heals a restart', async () => {
    const instance = lab.instances[0]!;
    const put = await awsCli(lab, ['iam', 'put-role-policy', '--role-name', BACKEND_ROLE, '--policy-name', 'lab-iam-deny', '--policy-document', deny]);
    expect(put.code, put.stderr).toBe(0);
    try {
      const simulated = await admin.iam.send(
        new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/${BACKEND_ROLE}`, ActionNames: ['ssm:GetParameter'], ResourceArns: [parameterArn('/linkbox/db-endpoint')] }),
      );
      expect(simulated.EvaluationResults?.[0]).toMatchObject({ EvalDecision: 'explicitDeny', MatchedStatements: [expect.objectContaining({ SourcePolicyId: 'lab-iam-deny' })] });

      const failed = await startApplication(instance.id);
      expect(failed.Status).toBe('Failed');
      const refusal =
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/${BACKEND_ROLE}/${instance.id} is not authorized to perform: ssm:GetParameter ` +
        `on resource: ${parameterArn('/linkbox/db-endpoint')} with an explicit deny in an identity-based policy`;
      expect(failed.StandardErrorContent).toContain(`An error occurred (AccessDeniedException) when calling the GetParameter operation: ${refusal}`);
      const host = (await labApi<{ instances: TestLab['instances'] }>(lab, 'GET', '/_lab/state')).body.instances.find((i) => i.id === instance.id)!;
      expect(host.container.status).toBe('exited');
      expect(host.container.error).toContain(refusal);
      expect((await fetch(instance.healthUrl).catch(() => undefined))?.status).toBeUndefined();
    } finally {
      const removed = await awsCli(lab, ['iam', 'delete-role-policy', '--role-name', BACKEND_ROLE, '--policy-name', 'lab-iam-deny']);
      expect(removed.code, removed.stderr).toBe(0);
    }
    expect((await startApplication(instance.id)).Status).toBe('Success');
    const health = await fetch(instance.healthUrl);
    expect(health.status).toBe(200);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
