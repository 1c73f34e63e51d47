import { readFile } from 'node:fs/promises';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeInstanceInformationCommand, GetParametersByPathCommand, ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LabEnvironmentState } from '@/infra/lab/contract';
import { awsCli, eventually, labApi, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// LAB_ENVIRONMENTS=3: three LinkBox environments in one account and region, each with its own
// parameters, RDS instance, master user, database and backend, on one VPC and one PostgreSQL. What
// is done to one (a password rotated the seed's way, a stopped instance) happens to it alone.

let lab: TestLab;
let ssm: SSMClient;
let rds: RDSClient;
const admin = { accessKeyId: 'testing', secretAccessKey: 'testing' };

beforeAll(async () => {
  lab = await startTestLab({ environments: 3 });
  ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: admin, maxAttempts: 1 });
  rds = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: admin, maxAttempts: 1 });
});
afterAll(() => {
  ssm?.destroy();
  rds?.destroy();
});

const env = (n: 1 | 2 | 3): LabEnvironmentState => lab.environments[n - 1]!;

async function parameters(e: LabEnvironmentState): Promise<Record<string, string>> {
  const { Parameters } = await ssm.send(new GetParametersByPathCommand({ Path: e.parameterPrefix, WithDecryption: true }));
  return Object.fromEntries((Parameters ?? []).map((p) => [p.Name!.slice(e.parameterPrefix.length + 1), p.Value!]));
}

async function rdsStatus(id: string): Promise<string | undefined> {
  const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: id }));
  return DBInstances?.[0]?.DBInstanceStatus;
}

const login = (e: LabEnvironmentState, password: string, database = e.rds.dbName) => tryDbLogin(lab, password, { user: e.rds.masterUsername, database, route: e.db });

async function health(e: LabEnvironmentState): Promise<number[]> {
  return Promise.all(e.instances.map(async (i) => (await fetch(i.healthUrl, { signal: AbortSignal.timeout(8000) })).status));
}

/** One SendCommand (as the console sends one for several environments' backends), waited for on every instance it reached. */
async function runCommand(target: { InstanceIds: string[] } | { Targets: Array<{ Key: string; Values: string[] }> }, commands: string[]): Promise<Array<{ instanceId: string; stdout: string }>> {
  const { Command } = await ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', Parameters: { commands }, ...target }));
  return eventually(async () => {
    const { CommandInvocations = [] } = await ssm.send(new ListCommandInvocationsCommand({ CommandId: Command!.CommandId, Details: true }));
    if (CommandInvocations.length === 0 || CommandInvocations.some((i) => i.Status !== 'Success' && i.Status !== 'Failed')) return undefined;
    return CommandInvocations.map((i) => ({ instanceId: i.InstanceId!, stdout: (i.CommandPlugins?.[0]?.Output ?? '').trim() }));
  }, 'the command to finish');
}

describe('a lab of three environments in one account', () => {
  test('seeds each environment its own parameters, RDS instance and backend, names them in /_lab/state, and writes them into one AWS scope', async () => {
    expect(lab.environments.map((e) => [e.name, e.parameterPrefix, e.rds.instanceId, e.rds.masterUsername, e.rds.dbName, e.backendName, e.instances.length])).toEqual([
      ['production', '/linkbox', 'linkbox-db', 'linkbox', 'linkbox', 'linkbox-backend', 2],
      ['production-2', '/linkbox-2', 'linkbox-db-2', 'linkbox_2', 'linkbox_2', 'linkbox-backend-2', 1],
      ['production-3', '/linkbox-3', 'linkbox-db-3', 'linkbox_3', 'linkbox_3', 'linkbox-backend-3', 1],
    ]);
    // Environment 1 is where it always was.
    expect({ prefix: lab.parameterPrefix, rds: lab.rds, endpoint: lab.rdsEndpoint, db: lab.db, instances: lab.instances.map((i) => i.id) }).toEqual({
      prefix: env(1).parameterPrefix,
      rds: env(1).rds,
      endpoint: env(1).rdsEndpoint,
      db: env(1).db,
      instances: env(1).instances.map((i) => i.id),
    });

    const seen = await Promise.all(lab.environments.map(parameters));
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({}));
    for (const [i, e] of lab.environments.entries()) {
      expect(seen[i]).toEqual({ 'db-endpoint': e.rds.endpointAddress, 'db-username': e.rds.masterUsername, 'db-password': expect.any(String), 'db-name': e.rds.dbName });
      expect(DBInstances!.find((d) => d.DBInstanceIdentifier === e.rds.instanceId)).toMatchObject({
        Endpoint: { Address: e.rds.endpointAddress, Port: 5432 },
        MasterUsername: e.rds.masterUsername,
        DBName: e.rds.dbName,
      });
    }
    // Distinct passwords, endpoint addresses, backends, tunnels; the VPC and its groups are shared.
    const distinct: unknown[][] = [seen.map((p) => p['db-password']), lab.environments.map((e) => e.rds.endpointAddress), lab.environments.flatMap((e) => e.instances.map((i) => i.id)), lab.environments.map((e) => e.db.port)];
    for (const values of distinct) {
      expect(new Set(values).size).toBe(values.length);
    }
    expect(new Set(DBInstances!.map((d) => d.VpcSecurityGroups?.[0]?.VpcSecurityGroupId))).toEqual(new Set([lab.vpc.dbSecurityGroupId]));

    const state = await labApi<{ environments: Array<{ name: string; instances: Array<{ id: string; healthUrl: string }> }> }>(lab, 'GET', '/_lab/state');
    expect(state.body.environments.map((e) => [e.name, e.instances.map((i) => [i.id, i.healthUrl])])).toEqual(lab.environments.map((e) => [e.name, e.instances.map((i) => [i.id, i.healthUrl])]));

    const config = JSON.parse(await readFile(lab.configPath, 'utf8')) as { environments: Array<Record<string, unknown>> };
    const aws = config.environments.filter((e) => e.kind === 'aws');
    expect(aws.map((e) => [e.name, e.parameterPrefix, e.rdsInstanceId, e.backendInstances, e.reachVia, (e.health as { urls: object }).urls])).toEqual(
      lab.environments.map((e) => [e.name, e.parameterPrefix, e.rds.instanceId, { tags: { Name: e.backendName } }, e.db, Object.fromEntries(e.instances.map((i) => [i.id, i.healthUrl]))]),
    );
    expect(new Set(aws.map((e) => JSON.stringify([e.region, e.endpoint, e.credentials])))).toHaveProperty('size', 1);
  });

  test('the console role reaches every environment: its policy is generated from the whole config', async () => {
    const role = lab.iam.consoleRole!;
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: role.roleArn, RoleSessionName: role.sessionName },
      masterCredentials: { accessKeyId: role.sourceAccessKeyId, secretAccessKey: 'lab-not-a-secret' },
      clientConfig: { region: lab.region, endpoint: lab.awsEndpoint },
    });
    const asConsole = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials, maxAttempts: 1 });
    try {
      for (const e of lab.environments) {
        const { DBInstances } = await asConsole.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: e.rds.instanceId }));
        expect(DBInstances?.[0]?.DBInstanceIdentifier).toBe(e.rds.instanceId);
      }
    } finally {
      asConsole.destroy();
    }
  });

  test('every backend is healthy with its own environment\'s credentials, online for SSM, and one SendCommand reaches them all', async () => {
    for (const e of lab.environments) expect(await health(e)).toEqual(e.instances.map(() => 200));
    const { InstanceInformationList = [] } = await ssm.send(new DescribeInstanceInformationCommand({}));
    expect(InstanceInformationList.map((i) => [i.InstanceId, i.PingStatus, i.Name]).sort()).toEqual(
      lab.environments.flatMap((e) => e.instances.map((i) => [i.id, 'Online', e.backendName])).sort(),
    );
    const passwords = await Promise.all(lab.environments.map(async (e) => (await parameters(e))['db-password']!));
    const expected = lab.environments.flatMap((e, i) =>
      e.instances.map((instance) => ({ instanceId: instance.id, stdout: `postgresql://${e.rds.masterUsername}:${passwords[i]}@${e.rds.endpointAddress}:5432/${e.rds.dbName}` })),
    );
    const outputs = await runCommand({ InstanceIds: expected.map((x) => x.instanceId) }, ['docker exec linkbox-backend printenv DATABASE_URL']);
    expect(outputs).toEqual(expect.arrayContaining(expected));
    expect(outputs).toHaveLength(expected.length);
    // One environment's master gets nothing from another's database: they are separate instances.
    expect(await login(env(2), passwords[1]!, env(3).rds.dbName)).toBe('error: 42501'); // permission denied for database
  });

  test('a password rotated the seed\'s way on environment 2 changes environment 2 alone', async () => {
    const before = await Promise.all(lab.environments.map(async (e) => (await parameters(e))['db-password']!));
    const next = 'Rotated-for-environment-2-0001';
    const put = await awsCli(lab, ['ssm', 'put-parameter', '--name', '/linkbox-2/db-password', '--type', 'SecureString', '--value', next, '--overwrite']);
    expect(put.code, put.stderr).toBe(0);
    const modify = await awsCli(lab, ['rds', 'modify-db-instance', '--db-instance-identifier', 'linkbox-db-2', '--master-user-password', next, '--apply-immediately']);
    expect(modify.code, modify.stderr).toBe(0);
    expect([await rdsStatus('linkbox-db'), await rdsStatus('linkbox-db-2'), await rdsStatus('linkbox-db-3')]).toEqual(['available', 'resetting-master-credentials', 'available']);

    await eventually(async () => ((await rdsStatus('linkbox-db-2')) === 'available' ? true : undefined), 'linkbox-db-2 to finish resetting');
    expect(await login(env(2), next)).toBe('ok');
    expect(await login(env(2), before[1]!)).toBe('auth-failed');
    expect(await login(env(1), before[0]!)).toBe('ok');
    expect(await login(env(3), before[2]!)).toBe('ok');
    expect((await Promise.all(lab.environments.map(parameters))).map((p) => p['db-password'])).toEqual([before[0], next, before[2]]);
    // Environment 2's running container still holds the old password (until a redeploy); the others are untouched.
    expect([await health(env(1)), await health(env(2)), await health(env(3))]).toEqual([[200, 200], [503], [200]]);
  });

  test('a tag selector for environment 3 picks its backend alone, in EC2 and in Run Command', async () => {
    const ids = (selector: string) =>
      awsCli(lab, ['ec2', 'describe-instances', '--filters', `Name=tag:Name,Values=${selector}`, 'Name=instance-state-name,Values=running', '--query', 'Reservations[].Instances[].InstanceId']);
    const three = await ids('linkbox-backend-3');
    expect(three.code, three.stderr).toBe(0);
    expect(three.json).toEqual(env(3).instances.map((i) => i.id));
    expect(((await ids('linkbox-backend')).json as string[]).sort()).toEqual(env(1).instances.map((i) => i.id).sort());

    const outputs = await runCommand({ Targets: [{ Key: 'tag:Name', Values: ['linkbox-backend-3'] }] }, ['echo picked']);
    expect(outputs).toEqual([{ instanceId: env(3).instances[0]!.id, stdout: 'picked' }]);
  });

  test('stopping linkbox-db-3 refuses connections to it alone, until it is started again', async () => {
    const passwords = await Promise.all(lab.environments.map(async (e) => (await parameters(e))['db-password']!));
    const stop = await awsCli(lab, ['rds', 'stop-db-instance', '--db-instance-identifier', 'linkbox-db-3']);
    expect(stop.code, stop.stderr).toBe(0);
    expect(await login(env(3), passwords[2]!)).toBe('refused');
    expect(await login(env(1), passwords[0]!)).toBe('ok');
    expect(await login(env(2), passwords[1]!)).toBe('ok');

    const start = await awsCli(lab, ['rds', 'start-db-instance', '--db-instance-identifier', 'linkbox-db-3']);
    expect(start.code, start.stderr).toBe(0);
    expect(await eventually(async () => ((await login(env(3), passwords[2]!)) === 'ok' ? 'ok' : undefined), 'linkbox-db-3 to answer again')).toBe('ok');
  });
});
