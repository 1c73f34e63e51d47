import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { deployStack, StackDeploymentError, type DeployedStack } from '@/infra/lab/cloudformation';
import { policyText } from '@/infra/lab/iam/policy-document';
import { startTestLab, type TestLab } from '../support/lab';

// CloudFormation in the lab, groundwork for deploying the console's own stack into it: a small
// hand-written template with a role, an inline policy, an AWS::IAM::Policy and a managed policy,
// deployed through the gateway; moto's IAM then holds them as written, and a session of the role
// is enforced with exactly those policies. A resource type moto does not implement is reported.

const ACCOUNT = '123456789012';
const CREDENTIALS = { accessKeyId: 'LABCFNTEST', secretAccessKey: 'lab-not-a-secret' };

const statements = {
  inline: { Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/linkbox/db-endpoint` },
  policy: { Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
  managed: { Effect: 'Allow', Action: 'rds:DescribeDBInstances', Resource: `arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-db` },
};
const document = (statement: object) => ({ Version: '2012-10-17', Statement: [statement] });

const TEMPLATE = {
  AWSTemplateFormatVersion: '2010-09-09',
  Parameters: { RoleName: { Type: 'String' } },
  Resources: {
    ProbeRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: { Ref: 'RoleName' },
        AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: { 'Fn::Sub': 'arn:aws:iam::${AWS::AccountId}:root' } }, Action: 'sts:AssumeRole' }] },
        Policies: [{ PolicyName: 'read-endpoint', PolicyDocument: document(statements.inline) }],
      },
    },
    DescribePolicy: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'describe-instances', Roles: [{ Ref: 'ProbeRole' }], PolicyDocument: document(statements.policy) } },
    DatabasePolicy: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: { ManagedPolicyName: 'cfn-probe-database', Roles: [{ Ref: 'ProbeRole' }], PolicyDocument: document(statements.managed) },
    },
    Logs: { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: '/linkbox/cfn-probe' } },
    Secret: { Type: 'AWS::SecretsManager::Secret', Properties: { Name: 'cfn-probe' } },
  },
  Outputs: { RoleArn: { Value: { 'Fn::GetAtt': ['ProbeRole', 'Arn'] } } },
};

let lab: TestLab;
let stack: DeployedStack;
const common = () => ({ region: lab.region, endpoint: lab.awsEndpoint, maxAttempts: 1 });
let iam: IAMClient;

beforeAll(async () => {
  lab = await startTestLab();
  iam = new IAMClient({ ...common(), credentials: CREDENTIALS });
  stack = await deployStack(lab, { name: 'cfn-probe', templateBody: TEMPLATE, parameters: { RoleName: 'cfn-probe-role' } });
});

afterAll(() => iam?.destroy());

describe('deployStack', () => {
  test('creates the stack, lists what moto created and what it skipped, and gives the outputs', () => {
    expect(stack.status).toBe('CREATE_COMPLETE');
    expect(stack.stackId).toMatch(new RegExp(`^arn:aws:cloudformation:us-east-1:${ACCOUNT}:stack/cfn-probe/`));
    expect(stack.resources.map((r) => [r.logicalId, r.type, r.status]).sort()).toEqual([
      ['DatabasePolicy', 'AWS::IAM::ManagedPolicy', 'CREATE_COMPLETE'],
      ['DescribePolicy', 'AWS::IAM::Policy', 'CREATE_COMPLETE'],
      ['Logs', 'AWS::Logs::LogGroup', 'CREATE_COMPLETE'],
      ['ProbeRole', 'AWS::IAM::Role', 'CREATE_COMPLETE'],
    ]);
    expect(stack.resources.find((r) => r.logicalId === 'ProbeRole')?.physicalId).toBe('cfn-probe-role');
    expect(stack.skipped).toEqual([{ logicalId: 'Secret', type: 'AWS::SecretsManager::Secret', reason: "moto's CloudFormation does not implement AWS::SecretsManager::Secret" }]);
    expect(stack.outputs).toEqual({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/cfn-probe-role` });
  });

  test('moto\'s IAM holds the role\'s policies as the template wrote them', async () => {
    const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: 'cfn-probe-role' }));
    expect(inline.PolicyNames?.sort()).toEqual(['describe-instances', 'read-endpoint']);
    const read = async (name: string) => JSON.parse(policyText((await iam.send(new GetRolePolicyCommand({ RoleName: 'cfn-probe-role', PolicyName: name }))).PolicyDocument)) as unknown;
    // moto keeps the Role's own Policies as a Python dict; the lab reads it back as the JSON it was.
    expect(await read('read-endpoint')).toEqual(document(statements.inline));
    expect(await read('describe-instances')).toEqual(document(statements.policy));
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'cfn-probe-role' }));
    expect(attached.AttachedPolicies).toEqual([{ PolicyName: 'cfn-probe-database', PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/cfn-probe-database` }]);
    const policy = await iam.send(new GetPolicyCommand({ PolicyArn: attached.AttachedPolicies![0]!.PolicyArn }));
    const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: policy.Policy!.Arn, VersionId: policy.Policy!.DefaultVersionId }));
    expect(JSON.parse(policyText(version.PolicyVersion!.Document))).toEqual(document(statements.managed));
  });

  test('a session of the deployed role is held to exactly those policies by the gateway', async () => {
    const sts = new STSClient({ ...common(), credentials: CREDENTIALS });
    const assumed = await sts.send(new AssumeRoleCommand({ RoleArn: stack.outputs.RoleArn, RoleSessionName: 'probe' }));
    sts.destroy();
    const credentials = { accessKeyId: assumed.Credentials!.AccessKeyId!, secretAccessKey: assumed.Credentials!.SecretAccessKey!, sessionToken: assumed.Credentials!.SessionToken! };
    const ssm = new SSMClient({ ...common(), credentials });
    const ec2 = new EC2Client({ ...common(), credentials });
    const rds = new RDSClient({ ...common(), credentials });
    try {
      const who = `arn:aws:sts::${ACCOUNT}:assumed-role/cfn-probe-role/probe`;
      expect((await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-endpoint' }))).Parameter?.Value).toBe(lab.rds.endpointAddress);
      await expect(ssm.send(new GetParameterCommand({ Name: '/linkbox/db-username' }))).rejects.toMatchObject({
        name: 'AccessDeniedException',
        message: `User: ${who} is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/linkbox/db-username because no identity-based policy allows the ssm:GetParameter action`,
      });
      expect((await ec2.send(new DescribeInstancesCommand({}))).Reservations?.length).toBeGreaterThan(0);
      await expect(ec2.send(new DescribeSecurityGroupsCommand({}))).rejects.toMatchObject({ name: 'UnauthorizedOperation' });
      expect((await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }))).DBInstances).toHaveLength(1);
      await expect(rds.send(new DescribeDBInstancesCommand({}))).rejects.toMatchObject({ name: 'AccessDenied' });
    } finally {
      for (const client of [ssm, ec2, rds]) client.destroy();
    }
  });

  test('a stack moto cannot create is reported with moto\'s own exception and the stack events', async () => {
    const broken = { Resources: { NoTrust: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'cfn-broken' } } } };
    const error = await deployStack(lab, { name: 'cfn-broken', templateBody: broken }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(StackDeploymentError);
    expect((error as Error).message).toContain("CreateStack cfn-broken failed: moto raised KeyError: 'AssumeRolePolicyDocument'");
    expect((error as StackDeploymentError).events).toEqual(expect.arrayContaining([expect.objectContaining({ logicalId: 'cfn-broken', status: 'CREATE_IN_PROGRESS' })]));
  });
});
