import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, GetParametersCommand, ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { describeBackendInstances } from '@/lib/aws/ec2';
import { readDatabasePassword, readLinkboxParameters } from '@/lib/aws/parameters';
import { describeDatabaseInstance } from '@/lib/aws/rds';
import { readBackendReports } from '@/lib/aws/run-command';
import { awsEnvironmentSchema, type AwsEnvironmentConfig } from '@/lib/config/schema';
import { fakeRunCommand } from '../support/run-command';

// Environments of one AWS scope share calls (lib/aws/batch.ts), and each still gets only its own
// answer or its own error. Mocked for what the lab cannot produce on demand: a call refused because
// of one environment's resource, an answer naming what nobody asked for, the 10-name and
// 50-instance limits at scale, an output the listing cut.

const ssm = mockClient(SSMClient);
const rds = mockClient(RDSClient);
const ec2 = mockClient(EC2Client);
afterAll(() => [ssm, rds, ec2].forEach((m) => m.restore()));
beforeEach(() => [ssm, rds, ec2].forEach((m) => m.reset()));

/** Environment n of the scope: its own prefix, database and backends (tag Name=backend-n). */
function env(n: number, overrides: Record<string, unknown> = {}): AwsEnvironmentConfig {
  return awsEnvironmentSchema.parse({
    name: `env-${n}`,
    kind: 'aws',
    region: 'eu-west-1',
    credentials: { source: 'lab' },
    endpoint: 'http://127.0.0.1:1',
    parameterPrefix: `/env-${n}`,
    rdsInstanceId: `db-${n}`,
    dbSecurityGroup: { tags: { Name: 'db-sg' } },
    backendSecurityGroup: { tags: { Name: 'backend-sg' } },
    backendInstances: { tags: { Name: `backend-${n}` } },
    ...overrides,
  });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const denied = (message: string) => Object.assign(new Error(message), { name: 'AccessDeniedException', $fault: 'client', $metadata: { httpStatusCode: 400 } });
const PARAMETER_KEYS = ['db-endpoint', 'db-username', 'db-password', 'db-name'];

/** SSM's GetParameters: each name it has, with a value that says whose it is; the others invalid. */
function parameterStore(has: (name: string) => boolean = () => true) {
  ssm.on(GetParametersCommand).callsFake((input: { Names: string[]; WithDecryption?: boolean }) => ({
    Parameters: input.Names.filter(has).map((Name) => ({ Name, Type: Name.endsWith('db-password') ? 'SecureString' : 'String', Value: input.WithDecryption ? `value of ${Name}` : `plain ${Name}`, Version: 1 })),
    InvalidParameters: input.Names.filter((n) => !has(n)),
  }));
}

describe('GetParameters for the environments of a scope', () => {
  it('reads three environments\' twelve names in two calls, and each gets its own; a name SSM lacks is missing only where it belongs', async () => {
    parameterStore((name) => name !== '/env-2/db-name');
    const [one, two, three] = await Promise.all(range(3).map((n) => readLinkboxParameters(env(n))));
    expect(ssm.commandCalls(GetParametersCommand).map((c) => c.args[0].input.Names!.length)).toEqual([10, 2]);
    expect(one!.parameters['db-endpoint']?.value).toBe('plain /env-1/db-endpoint');
    expect(three!.parameters['db-name']?.value).toBe('plain /env-3/db-name');
    expect(two!.missing).toEqual(['db-name']);
    expect(one!.missing).toEqual([]);
    expect(three!.missing).toEqual([]);
  });

  it('decrypts thirty passwords in three calls of ten names, each environment getting only its own', async () => {
    parameterStore();
    const passwords = await Promise.all(range(30).map((n) => readDatabasePassword(env(n))));
    const calls = ssm.commandCalls(GetParametersCommand);
    expect(calls.map((c) => c.args[0].input.Names!.length)).toEqual([10, 10, 10]);
    expect(calls.every((c) => c.args[0].input.WithDecryption === true)).toBe(true);
    expect(passwords).toEqual(range(30).map((n) => `value of /env-${n}/db-password`));
  });

  it('never mixes decrypted and plain reads in one call', async () => {
    parameterStore();
    await Promise.all([readDatabasePassword(env(1)), readLinkboxParameters(env(2))]);
    const calls = ssm.commandCalls(GetParametersCommand).map((c) => [c.args[0].input.WithDecryption, c.args[0].input.Names]);
    expect(calls).toHaveLength(2);
    expect(calls).toContainEqual([true, ['/env-1/db-password']]);
    expect(calls).toContainEqual([false, PARAMETER_KEYS.map((k) => `/env-2/${k}`)]);
  });

  it('asks each environment alone when the shared call is refused, so only the environment the role may not read fails', async () => {
    parameterStore();
    ssm.on(GetParametersCommand).callsFake((input: { Names: string[] }) => {
      if (input.Names.some((n) => n.startsWith('/env-2/'))) throw denied('User: arn:aws:sts::1:assumed-role/console is not authorized to perform: ssm:GetParameters on resource: /env-2/db-endpoint');
      return { Parameters: input.Names.map((Name) => ({ Name, Type: 'String', Value: `plain ${Name}`, Version: 1 })), InvalidParameters: [] };
    });
    const [one, two, three] = await Promise.allSettled(range(3).map((n) => readLinkboxParameters(env(n))));
    expect(one).toMatchObject({ status: 'fulfilled', value: { missing: [], parameters: { 'db-name': { value: 'plain /env-1/db-name' } } } });
    expect(three).toMatchObject({ status: 'fulfilled', value: { missing: [], parameters: { 'db-name': { value: 'plain /env-3/db-name' } } } });
    expect(two).toMatchObject({ status: 'rejected', reason: { name: 'AccessDeniedException', message: expect.stringContaining('/env-2/') } });
    // The two shared calls (10 + 2 names), then each environment alone.
    expect(ssm.commandCalls(GetParametersCommand).map((c) => c.args[0].input.Names!.length)).toEqual([10, 2, 4, 4, 4]);
  });

  it('gives nobody a parameter nobody asked for', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: '/env-1/db-password', Type: 'SecureString', Value: 'the first one', Version: 1 },
        { Name: '/env-3/db-password', Type: 'SecureString', Value: 'nobody asked for this one', Version: 1 },
      ],
    });
    const [one, two] = await Promise.allSettled([readDatabasePassword(env(1)), readDatabasePassword(env(2))]);
    expect(one).toEqual({ status: 'fulfilled', value: 'the first one' });
    expect(two).toMatchObject({ status: 'rejected', reason: { name: 'ParameterNotFound', message: '/env-2/db-password does not exist or has no value' } });
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
  });
});

describe('DescribeDBInstances for the environments of a scope', () => {
  const instance = (id: string) => ({ DBInstanceIdentifier: id, DBInstanceArn: `arn:aws:rds:eu-west-1:123456789012:db:${id}`, DBInstanceStatus: 'available' });

  it('describes one instance by its identifier, as IAM scoped to db:<id> allows', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance('db-1')] });
    expect(await describeDatabaseInstance(env(1))).toMatchObject({ id: 'db-1', status: 'available' });
    expect(rds.commandCalls(DescribeDBInstancesCommand)[0]!.args[0].input).toEqual({ DBInstanceIdentifier: 'db-1' });
  });

  it('describes several in one call filtered on their ids; an instance RDS does not have is null for its environment only', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [instance('db-1'), instance('db-3'), instance('db-99')] });
    const [one, two, three] = await Promise.all(range(3).map((n) => describeDatabaseInstance(env(n))));
    expect(rds.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input.Filters)).toEqual([[{ Name: 'db-instance-id', Values: ['db-1', 'db-2', 'db-3'] }]]);
    expect(one).toMatchObject({ id: 'db-1' });
    expect(two).toBeNull();
    expect(three).toMatchObject({ id: 'db-3' });
  });

  it('asks by identifier, one by one, when the role may not describe db:* (no shared scope in its policy)', async () => {
    rds.on(DescribeDBInstancesCommand).callsFake((input: { DBInstanceIdentifier?: string }) => {
      if (!input.DBInstanceIdentifier) throw Object.assign(new Error('not authorized to perform: rds:DescribeDBInstances on resource: arn:aws:rds:eu-west-1:123456789012:db:*'), { name: 'AccessDenied' });
      return { DBInstances: [instance(input.DBInstanceIdentifier)] };
    });
    const found = await Promise.all(range(2).map((n) => describeDatabaseInstance(env(n))));
    expect(found.map((db) => db?.id)).toEqual(['db-1', 'db-2']);
    expect(rds.commandCalls(DescribeDBInstancesCommand).map((c) => c.args[0].input.DBInstanceIdentifier ?? 'filtered')).toEqual(['filtered', 'db-1', 'db-2']);
  });
});

describe('DescribeInstances for the environments of a scope', () => {
  const backend = (id: string, name: string, state = 'running') => ({ InstanceId: id, State: { Name: state as 'running' }, Tags: [{ Key: 'Name', Value: name }] });

  it('selectors on the same tag keys share one call; each environment keeps only the instances its own tags name', async () => {
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [backend('i-1', 'backend-1'), backend('i-2', 'backend-2'), backend('i-3', 'backend-2', 'terminated'), backend('i-9', 'backend-9')] }],
    });
    const [one, two] = await Promise.all(range(2).map((n) => describeBackendInstances(env(n))));
    expect(ec2.commandCalls(DescribeInstancesCommand).map((c) => c.args[0].input.Filters)).toEqual([[{ Name: 'tag:Name', Values: ['backend-1', 'backend-2'] }]]);
    expect(one!.map((i) => i.id)).toEqual(['i-1']);
    // A terminated instance is not part of the fleet.
    expect(two!.map((i) => i.id)).toEqual(['i-2']);
  });

  it('selectors by ids share a call; selectors on other tag keys do not (EC2 would AND the filters)', async () => {
    ec2.on(DescribeInstancesCommand).callsFake((input: { InstanceIds?: string[] }) => ({
      Reservations: [{ Instances: input.InstanceIds ? input.InstanceIds.map((id) => backend(id, 'x')) : [{ ...backend('i-7', 'x'), Tags: [{ Key: 'Role', Value: 'api' }] }] }],
    }));
    const [a, b, c] = await Promise.all([
      describeBackendInstances(env(1, { backendInstances: { ids: ['i-1'] } })),
      describeBackendInstances(env(2, { backendInstances: { ids: ['i-2', 'i-3'] } })),
      describeBackendInstances(env(3, { backendInstances: { tags: { Role: 'api' } } })),
    ]);
    expect(ec2.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input.InstanceIds ?? call.args[0].input.Filters)).toEqual([['i-1', 'i-2', 'i-3'], [{ Name: 'tag:Role', Values: ['api'] }]]);
    expect([a, b, c].map((list) => list.map((i) => i.id))).toEqual([['i-1'], ['i-2', 'i-3'], ['i-7']]);
  });
});

describe('one Run Command for the backends of a scope', () => {
  const inspect = (status: string) => `@@linkbox-ops-console:inspect\n{"status":"${status}","restarts":0,"startedAt":"2026-11-27T10:00:00Z","finishedAt":"0001-01-01T00:00:00Z","exitCode":0,"image":"linkbox:1","error":""}\n`;
  const ids = (n: number, count: number) => Array.from({ length: count }, (_, i) => `i-${n}-${i}`);

  it('sends three environments\' sixty backends in two commands (50 instances a call), and reads each command\'s answers in one listing', async () => {
    const fake = fakeRunCommand(ssm, { '*': { Status: 'Success', stdout: inspect('running') } });
    const reports = await Promise.all(range(3).map((n) => readBackendReports(env(n), ids(n, 20), { timeoutMs: 5000 })));
    expect(fake.sent().map((instances) => instances.length)).toEqual([50, 10]);
    expect(ssm.commandCalls(ListCommandInvocationsCommand)).toHaveLength(2);
    reports.forEach((r, i) => {
      expect(Object.keys(r)).toEqual(ids(i + 1, 20));
      expect(Object.values(r).every((x) => x.container.ok)).toBe(true);
    });
  });

  it('asks each environment alone when SendCommand refuses the shared command: a stopped backend fails only its environment', async () => {
    let sent = 0;
    ssm.on(SendCommandCommand).callsFake((input: { InstanceIds: string[] }) => {
      if (input.InstanceIds.includes('i-2-0')) throw Object.assign(new Error('Instances [[i-2-0]] not in a valid state for account 123456789012'), { name: 'InvalidInstanceId' });
      return { Command: { CommandId: `cmd-${++sent}` } };
    });
    ssm.on(ListCommandInvocationsCommand).callsFake((input: { CommandId: string }) => ({
      CommandInvocations: [{ CommandId: input.CommandId, InstanceId: 'i-1-0', Status: 'Success', CommandPlugins: [{ Name: 'aws:runShellScript', ResponseCode: 0, Output: inspect('exited') }] }],
    }));
    const [one, two] = await Promise.allSettled([readBackendReports(env(1), ['i-1-0'], { timeoutMs: 5000 }), readBackendReports(env(2), ['i-2-0'], { timeoutMs: 5000 })]);
    expect(one).toMatchObject({ status: 'fulfilled', value: { 'i-1-0': { container: { ok: true, container: { status: 'exited' } } } } });
    expect(two).toMatchObject({ status: 'rejected', reason: { name: 'InvalidInstanceId' } });
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-1-0', 'i-2-0'], ['i-1-0'], ['i-2-0']]);
  });

  it('reads an answer the listing may have cut whole, with GetCommandInvocation for that instance only', async () => {
    const long = `${inspect('running')}${'x'.repeat(3000)}`;
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [
        { CommandId: 'cmd-1', InstanceId: 'i-a', Status: 'Success', CommandPlugins: [{ Name: 'aws:runShellScript', ResponseCode: 0, Output: `${long.slice(0, 2400)}\n---Output truncated---` }] },
        { CommandId: 'cmd-1', InstanceId: 'i-b', Status: 'Success', CommandPlugins: [{ Name: 'aws:runShellScript', ResponseCode: 0, Output: inspect('restarting') }] },
      ],
    });
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success', ResponseCode: 0, StandardOutputContent: inspect('running'), StandardErrorContent: '' });
    const reports = await readBackendReports(env(1), ['i-a', 'i-b'], { timeoutMs: 5000 });
    expect(ssm.commandCalls(GetCommandInvocationCommand).map((c) => c.args[0].input.InstanceId)).toEqual(['i-a']);
    expect(reports['i-a']!.container).toMatchObject({ ok: true, container: { status: 'running' } });
    expect(reports['i-b']!.container).toMatchObject({ ok: true, container: { status: 'restarting' } });
  });

  it('ends one environment\'s wait when its own time is up, while the others\' shared command goes on', async () => {
    fakeRunCommand(ssm, { '*': { Status: 'Success', stdout: inspect('running') } });
    const gone = new AbortController();
    gone.abort(new Error('the check has its answer'));
    const [one, two] = await Promise.allSettled([readBackendReports(env(1), ['i-1'], { timeoutMs: 5000, signal: gone.signal }), readBackendReports(env(2), ['i-2'], { timeoutMs: 5000 })]);
    expect(one).toMatchObject({ status: 'rejected', reason: { message: 'the check has its answer' } });
    expect(two).toMatchObject({ status: 'fulfilled', value: { 'i-2': { container: { ok: true } } } });
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-2']]);
  });
});
