import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeParametersCommand, GetParametersCommand, ListCommandInvocationsCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { invalidateCache } from '@/lib/aws/cache';
import { createAwsContext } from '@/lib/checks/context';
import { awsEnvironmentSchema } from '@/lib/config/schema';
import { fakeRunCommand } from '../support/run-command';

// A status's container chain does not wait for DescribeInstances: the Run Command goes at once to
// the instances the last answer named, and only what the fresh answer adds follows. Mocked, since
// the test must hold DescribeInstances' answer back while it watches what is sent.

const ssm = mockClient(SSMClient);
const ec2 = mockClient(EC2Client);
afterAll(() => [ssm, ec2].forEach((m) => m.restore()));

const env = awsEnvironmentSchema.parse({
  name: 'production',
  kind: 'aws',
  region: 'eu-west-1',
  credentials: { source: 'lab' },
  endpoint: 'http://127.0.0.1:1',
  rdsInstanceId: 'linkbox-db',
  dbSecurityGroup: { tags: { Name: 'db-sg' } },
  backendSecurityGroup: { tags: { Name: 'backend-sg' } },
  backendInstances: { tags: { Name: 'linkbox-backend' } },
});

const INSPECT = '@@linkbox-ops-console:inspect\n{"status":"running","restarts":0,"startedAt":"2026-11-27T10:00:00Z","finishedAt":"0001-01-01T00:00:00Z","exitCode":0,"image":"linkbox:1","error":""}\n';
const context = () => createAwsContext(env, { budgetMs: 5000, ttlMs: 0, fresh: true, readAhead: true });

/** DescribeInstances answers these running instances, once `release` is called. */
function heldInstances(ids: string[]) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  ec2.on(DescribeInstancesCommand).callsFake(async () => {
    await released;
    return { Reservations: [{ Instances: ids.map((InstanceId) => ({ InstanceId, State: { Name: 'running' as const }, Tags: [{ Key: 'Name', Value: 'linkbox-backend' }] })) }] };
  });
  return release;
}

/** Resolves with the instance ids of the next SendCommand. */
function nextSend(): Promise<string[]> {
  return new Promise((resolve) => {
    const fake = ssm.on(SendCommandCommand);
    let n = 0;
    fake.callsFake((input: { InstanceIds: string[] }) => {
      resolve(input.InstanceIds);
      return { Command: { CommandId: `cmd-${++n}` } };
    });
  });
}

/** One status run on a context: the runner begins it; the checks would then ask for the containers. */
async function statusRun(ids: string[]) {
  const release = heldInstances(ids);
  const ctx = context();
  const end = ctx.beginRun();
  return { ctx, release, end };
}

beforeEach(async () => {
  ssm.reset();
  ec2.reset();
  invalidateCache();
  fakeRunCommand(ssm, { '*': { Status: 'Success', stdout: INSPECT } });
  ssm.on(GetParametersCommand).resolves({ Parameters: [{ Name: '/linkbox/db-password', Type: 'SecureString', Value: 'x', Version: 1 }] });
  // A first status: the instances are known from here on.
  const first = await statusRun(['i-1', 'i-2']);
  first.release();
  await first.ctx.containers();
  first.end();
  ssm.resetHistory();
  ec2.resetHistory();
});

describe('the container chain of a status', () => {
  it('starts with no known instances as a chain: DescribeInstances, then SendCommand', async () => {
    invalidateCache();
    const sent = nextSend();
    const { ctx, release } = await statusRun(['i-1']);
    const order: string[] = [];
    void sent.then(() => order.push('SendCommand'));
    await new Promise((r) => setImmediate(r));
    order.push('DescribeInstances answered');
    release();
    await ctx.containers();
    expect(order).toEqual(['DescribeInstances answered', 'SendCommand']);
  });

  it('sends the Run Command to the instances known from the last answer while DescribeInstances is still out', async () => {
    const sent = nextSend();
    const { ctx, release } = await statusRun(['i-1', 'i-2']);
    // DescribeInstances is held back: the command goes anyway.
    expect(await sent).toEqual(['i-1', 'i-2']);
    release();
    const { reports } = await ctx.containers();
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(Object.keys(reports)).toEqual(['i-1', 'i-2']);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
    expect(ssm.commandCalls(ListCommandInvocationsCommand).length).toBeGreaterThanOrEqual(1);
  });

  it('inspects only the instances the fresh answer adds, and drops the reports of those no longer running', async () => {
    const { ctx, release } = await statusRun(['i-2', 'i-3']);
    release();
    const { reports } = await ctx.containers();
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-1', 'i-2'], ['i-3']]);
    expect(Object.keys(reports).sort()).toEqual(['i-2', 'i-3']);
  });

  it('asks again for the instances still running when a known one stopped and SendCommand refused the whole command', async () => {
    ssm.on(SendCommandCommand).callsFake((input: { InstanceIds: string[] }) => {
      if (input.InstanceIds.includes('i-1')) throw Object.assign(new Error('Instances [[i-1]] not in a valid state'), { name: 'InvalidInstanceId' });
      return { Command: { CommandId: 'cmd-again' } };
    });
    ssm.on(ListCommandInvocationsCommand).resolves({
      CommandInvocations: [{ CommandId: 'cmd-again', InstanceId: 'i-2', Status: 'Success', CommandPlugins: [{ Name: 'aws:runShellScript', ResponseCode: 0, Output: INSPECT }] }],
    });
    const { ctx, release } = await statusRun(['i-2']);
    release();
    const { reports } = await ctx.containers();
    expect(ssm.commandCalls(SendCommandCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([['i-1', 'i-2'], ['i-2']]);
    expect(reports).toMatchObject({ 'i-2': { ok: true, container: { status: 'running' } } });
  });

  it('starts the password\'s decryption with the run, before any check asks for it', async () => {
    const { ctx, release, end } = await statusRun(['i-1', 'i-2']);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(ssm.commandCalls(GetParametersCommand, { WithDecryption: true })).toHaveLength(1);
    release();
    expect(await ctx.databasePassword()).toBe('x');
    expect(ssm.commandCalls(GetParametersCommand, { WithDecryption: true })).toHaveLength(1);
    end();
  });
});

describe('the combined command of a diagnosis', () => {
  const parametersNaming = (endpoint: string) => ({
    Parameters: [
      { Name: '/linkbox/db-endpoint', Type: 'String' as const, Value: endpoint, Version: 1 },
      { Name: '/linkbox/db-password', Type: 'SecureString' as const, Value: 'x', Version: 1 },
    ],
  });
  const commandsSent = () => ssm.commandCalls(SendCommandCommand).map((c) => (c.args[0].input.Parameters?.commands ?? []).join('\n'));

  it('carries nc to the db-endpoint the last read of SSM named without waiting for this run\'s read, and asks again when that read names another', async () => {
    ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
    ssm.on(GetParametersCommand).resolves(parametersNaming('db-old.example.internal'));
    await createAwsContext(env, { budgetMs: 5000, ttlMs: 0, fresh: true }).parameters();
    ssm.resetHistory();

    // This run's read of SSM is held back, and names another endpoint when it answers.
    let answer!: () => void;
    const held = new Promise<void>((r) => (answer = r));
    ssm.on(GetParametersCommand).callsFake(async () => {
      await held;
      return parametersNaming('db-new.example.internal');
    });
    const ctx = createAwsContext(env, { budgetMs: 5000, ttlMs: 0, fresh: true, probeBackendTcp: true });
    const containers = ctx.containers();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(commandsSent()).toHaveLength(1);
    expect(commandsSent()[0]).toContain('nc -zv -w 2 db-old.example.internal 5432');

    answer();
    await containers;
    const tcp = await ctx.backendTcp();
    expect(tcp).toMatchObject({ kind: 'probed', host: 'db-new.example.internal' });
    expect(commandsSent()).toHaveLength(2);
    expect(commandsSent()[1]).toContain('nc -zv -w 2 db-new.example.internal 5432');
  });
});
