import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsoleApp, CONSOLE_STACK, synthesize } from '@/infra/aws/app';
import { deployStack, type DeployedStack } from '@/infra/lab/cloudformation';
import { policyText } from '@/infra/lab/iam/policy-document';
import { consoleIdentityPolicy, environmentPolicy, type PolicyScope } from '@/lib/aws/catalogue';
import { setConfigForTests } from '@/lib/config/load';
import { awsEnvironmentSchema, type AwsEnvironmentConfig } from '@/lib/config/schema';
import type { Caller } from '@/lib/roles';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '@/lib/status';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// Least privilege proven by the lab: the console's stacks, synthesised from a config for the lab's
// LinkBox, deployed into moto's CloudFormation through the gateway. What moto created and skipped is
// listed; the roles and their policies exist in moto's IAM exactly as synthesised; and the console,
// assuming the deployed role, runs a status and a diagnosis that the gateway authorizes against that
// role's policy — and is refused, naming the action, where the config reaches beyond it.

const VIEWER: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const EXTERNAL_ID = 'lab-deploy-external-id';
const ACCESS_ROLE = 'linkbox-ops-console-access';
const ADMIN = { accessKeyId: 'LABDEPLOYTEST', secretAccessKey: 'lab-not-a-secret' };

let lab: TestLab;
let outdir: string;
let scope: PolicyScope;
let accessRoleArn: string;
let environments: { own: AwsEnvironmentConfig; viaRole: AwsEnvironmentConfig };
let deployConfig: object;
const stacks: { console?: DeployedStack; access?: DeployedStack } = {};
let iam: IAMClient;

beforeAll(async () => {
  // The lab without a console role: LABCONSOLE is then the account itself, which the access role trusts here.
  lab = await startTestLab({ consoleRole: undefined });
  iam = new IAMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: ADMIN, maxAttempts: 2 });
  const sts = new STSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: ADMIN, maxAttempts: 2 });
  scope = { partition: 'aws', accountId: (await sts.send(new GetCallerIdentityCommand({}))).Account! };
  sts.destroy();
  accessRoleArn = `arn:aws:iam::${scope.accountId}:role/${ACCESS_ROLE}`;
  const labConfig = JSON.parse(readFileSync(lab.configPath, 'utf8')) as { environments: Array<Record<string, unknown>>; roles: unknown };
  const production = labConfig.environments.find((e) => e.name === 'production')!;
  // The lab's production twice: reached with the task role's own credentials, and through the role of another account.
  const own = { ...production, credentials: { source: 'default' } };
  const viaRole = { ...production, name: 'production-via-role', credentials: { source: 'assume-role', roleArn: accessRoleArn, externalId: EXTERNAL_ID } };
  environments = { own: awsEnvironmentSchema.parse(own), viaRole: awsEnvironmentSchema.parse(viaRole) };
  deployConfig = { mode: 'aws', environments: [own, viaRole], roles: labConfig.roles };

  outdir = mkdtempSync(join(tmpdir(), 'linkbox-cdk-'));
  const built = buildConsoleApp(JSON.stringify(deployConfig), { outdir, source: 'the lab deployment config' });
  const { assembly, findings } = synthesize(built);
  expect(findings).toEqual([]);
  const template = (id: string) => readFileSync(assembly!.getStackByName(id).templateFullPath, 'utf8');

  const appSubnets = lab.vpc.appSubnets.map((s) => s.id).join(',');
  // The load balancer's listener wants a certificate ACM knows (the operator's, in life).
  const certificate = await awsCli(lab, ['acm', 'request-certificate', '--domain-name', 'ops.linkbox.lab']);
  const certificateArn = (certificate.json as { CertificateArn: string }).CertificateArn;
  stacks.console = await deployStack(lab, {
    name: CONSOLE_STACK,
    templateBody: template(CONSOLE_STACK),
    parameters: {
      ImageUri: `${scope.accountId}.dkr.ecr.${lab.region}.amazonaws.com/linkbox-ops-console:lab`,
      VpcId: lab.vpc.id,
      PrivateSubnetIds: appSubnets,
      LoadBalancerSubnetIds: appSubnets,
      CertificateArn: certificateArn,
      ConsoleUrl: 'https://ops.linkbox.lab',
      LinkboxDbSecurityGroupId: lab.vpc.dbSecurityGroupId,
      LinkboxBackendSecurityGroupId: lab.vpc.backendSecurityGroupId,
      OidcIssuer: 'https://idp.linkbox.lab',
      OidcClientId: 'linkbox-ops-console',
      OidcClientSecretArn: `arn:aws:secretsmanager:${lab.region}:${scope.accountId}:secret:linkbox-oidc-AbCdEf`,
    },
    timeoutMs: 120_000,
  });
  const accessId = built.access[0]!.stackName;
  stacks.access = await deployStack(lab, {
    name: accessId,
    templateBody: template(accessId),
    // The lab has no ECS to hand the task its role: the console signs as the account, which the trust names instead.
    parameters: { ConsoleTaskRoleArn: `arn:aws:iam::${scope.accountId}:root` },
  });
});

afterAll(() => {
  iam?.destroy();
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

/** As the CDK writes a policy (and IAM keeps it): a single action or resource as a string, not a list of one. */
function asSynthesised(policy: object): unknown {
  return JSON.parse(JSON.stringify(policy), (key, value: unknown) => ((key === 'Action' || key === 'Resource') && Array.isArray(value) && value.length === 1 ? value[0] : value));
}

async function inlinePolicy(roleName: string): Promise<{ names: string[]; document: unknown }> {
  const names = (await iam.send(new ListRolePoliciesCommand({ RoleName: roleName }))).PolicyNames ?? [];
  const got = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: names[0] }));
  return { names, document: JSON.parse(policyText(got.PolicyDocument)) };
}

describe('the console stack in moto', () => {
  it('reaches CREATE_COMPLETE, listing what moto created and what it skipped', () => {
    const stack = stacks.console!;
    expect(stack.status).toBe('CREATE_COMPLETE');
    const created = stack.resources.map((r) => r.type).sort();
    console.log(`created: ${stack.resources.map((r) => `${r.logicalId} (${r.type})`).join(', ')}`);
    console.log(`skipped: ${stack.skipped.map((r) => `${r.logicalId} (${r.type}): ${r.reason}`).join(', ')}`);
    expect(created).toEqual(
      expect.arrayContaining(['AWS::IAM::Role', 'AWS::ECS::Cluster', 'AWS::ECS::TaskDefinition', 'AWS::ECS::Service', 'AWS::ElasticLoadBalancingV2::LoadBalancer', 'AWS::RDS::DBInstance']),
    );
    // What moto 5.2 does not implement (the egress rules, the secrets), never a resource it failed on.
    for (const s of stack.skipped) expect(s.reason, s.logicalId).toMatch(/does not implement/);
    expect([...new Set(stack.skipped.map((s) => s.type))].sort()).toEqual(['AWS::EC2::SecurityGroupEgress', 'AWS::SecretsManager::Secret']);
  });

  it("holds the task role's policy in IAM exactly as the catalogue generated it", async () => {
    const role = stacks.console!.resources.find((r) => r.logicalId.startsWith('TaskRole'))!;
    const { names, document } = await inlinePolicy(role.physicalId);
    expect(names).toEqual(['linkbox-ops-console']);
    expect(document).toEqual(asSynthesised(consoleIdentityPolicy(deployConfig as never, scope)));
    const trust = JSON.parse(policyText((await iam.send(new GetRoleCommand({ RoleName: role.physicalId }))).Role!.AssumeRolePolicyDocument));
    expect(trust.Statement[0]).toMatchObject({ Effect: 'Allow', Principal: { Service: 'ecs-tasks.amazonaws.com' }, Action: 'sts:AssumeRole' });
  });
});

describe('the access stack in moto', () => {
  it('creates the role the config names, trusting the console with its external id, with the same least-privilege policy', async () => {
    expect(stacks.access!.status).toBe('CREATE_COMPLETE');
    expect(stacks.access!.outputs.RoleArn).toBe(accessRoleArn);
    const { document } = await inlinePolicy(ACCESS_ROLE);
    expect(document).toEqual(asSynthesised(environmentPolicy([environments.viaRole], scope)));
    const trust = JSON.parse(policyText((await iam.send(new GetRoleCommand({ RoleName: ACCESS_ROLE }))).Role!.AssumeRolePolicyDocument));
    expect(trust.Statement[0]).toMatchObject({ Condition: { StringEquals: { 'sts:ExternalId': EXTERNAL_ID } } });
  });

  it('is the console: status and diagnosis pass under it, and a resource beyond the policy is refused, naming the action', async () => {
    const beyond = { ...environments.viaRole, name: 'beyond-the-policy', parameterPrefix: '/other-app' };
    setConfigForTests({ mode: 'lab', environments: [environments.viaRole, beyond] });
    await labApi(lab, 'DELETE', '/_lab/requests');

    const status = await getEnvironmentStatus(VIEWER, 'production-via-role', { fresh: true });
    expect(status.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.summary}`)).toEqual([]);
    const diagnosis = await diagnoseEnvironment(VIEWER, 'production-via-role', { fresh: true });
    expect(diagnosis.verdict).toBe('healthy');

    const refused = await getEnvironmentStatus(VIEWER, 'beyond-the-policy', { fresh: true });
    const parameters = refused.checks.find((c) => c.id === 'ssm.parameters')!;
    expect(parameters.status).toBe('error');
    expect(parameters.summary).toMatch(new RegExp(`assumed-role/${ACCESS_ROLE}/.* is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:${lab.region}:${scope.accountId}:parameter/other-app/`));

    // Every call was the assumed role's, and the gateway refused only what the policy does not allow.
    const counts = (await labApi<{ byService: Record<string, Record<string, number>>; denied: { byCaller: Record<string, { principal: string; byAction: Record<string, number> }> } }>(lab, 'GET', '/_lab/requests')).body;
    expect(counts.byService.sts?.AssumeRole).toBe(1);
    const denied = Object.values(counts.denied.byCaller);
    expect(denied.map((d) => d.principal)).toEqual([expect.stringContaining(`assumed-role/${ACCESS_ROLE}/`)]);
    expect(Object.keys(denied[0]!.byAction)).toEqual(['ssm:GetParameters']);
  });
});
