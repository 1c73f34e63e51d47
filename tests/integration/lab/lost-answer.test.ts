import { DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule } from '@/infra/lab/contract';
import { eventually, labApi, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// "The call landed, the answer was lost": with a lost-answer fault the gateway lets the call reach
// moto and the lab's physics, then drops the connection or holds the answer past the caller's
// timeout. For an RDS password change that means RDS really resets the credentials while the
// caller sees an error, and the SDK's own retry is refused with InvalidDBInstanceState.

let lab: TestLab;
let rds: RDSClient;
/** The password the previous test left RDS with. */
let lastPassword = '';

/**
 * As lib/aws/clients.ts builds the console's: standard retries, 3 attempts, 2 s to connect, 4 s per
 * request. (This SDK only warns when requestTimeout passes unless throwOnRequestTimeout is set.)
 */
function consoleLikeRds(overrides: { maxAttempts?: number; requestTimeout?: number; throwOnRequestTimeout?: boolean } = {}): RDSClient {
  return new RDSClient({
    region: lab.region,
    endpoint: lab.awsEndpoint,
    credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' },
    maxAttempts: overrides.maxAttempts ?? 3,
    retryMode: 'standard',
    requestHandler: { connectionTimeout: 2000, requestTimeout: overrides.requestTimeout ?? 4000, throwOnRequestTimeout: overrides.throwOnRequestTimeout },
  });
}

beforeAll(async () => {
  lab = await startTestLab({ resetSeconds: 3 });
  rds = consoleLikeRds({ maxAttempts: 1 });
});
afterAll(() => rds?.destroy());

async function rdsView(): Promise<{ status?: string; pendingPassword: boolean }> {
  const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: lab.rds.instanceId }));
  return { status: DBInstances?.[0]?.DBInstanceStatus, pendingPassword: !!DBInstances?.[0]?.PendingModifiedValues?.MasterUserPassword };
}

async function addFault(rule: Omit<FaultRule, 'id'> & Record<string, unknown>): Promise<{ id: string }> {
  const res = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', rule);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

async function currentPassword(): Promise<string> {
  const ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' } });
  try {
    return (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-password`, WithDecryption: true }))).Parameter!.Value!;
  } finally {
    ssm.destroy();
  }
}

async function modifyCount(): Promise<number> {
  const { body } = await labApi<{ byService: Record<string, Record<string, number>> }>(lab, 'GET', '/_lab/requests');
  return body.byService.rds?.ModifyDBInstance ?? 0;
}

async function available(): Promise<void> {
  await eventually(async () => ((await rdsView()).status === 'available' ? true : undefined), 'linkbox-db available again');
}

describe('a lost answer on ModifyDBInstance', () => {
  it('drop: the SDK\'s retry is answered InvalidDBInstanceState while RDS really resets the password', async () => {
    const oldPassword = await currentPassword();
    const newPassword = 'Lost-answer-drop-0001-abcdefgh';
    await addFault({ kind: 'lost-answer', service: 'rds', action: 'ModifyDBInstance', mode: 'drop', count: 1 });
    await labApi(lab, 'DELETE', '/_lab/requests');

    const client = consoleLikeRds();
    try {
      await expect(client.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: lab.rds.instanceId, MasterUserPassword: newPassword, ApplyImmediately: true }))).rejects.toMatchObject({
        name: 'InvalidDBInstanceStateFault',
        message: 'Database instance is not in available state.',
        $metadata: expect.objectContaining({ httpStatusCode: 400, attempts: 2 }),
      });
    } finally {
      client.destroy();
    }
    // Both attempts reached the lab, and the rule, used up, is gone.
    expect(await modifyCount()).toBe(2);
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([]);

    expect(await rdsView()).toEqual({ status: 'resetting-master-credentials', pendingPassword: true });
    expect(await tryDbLogin(lab, oldPassword)).toBe('ok');
    await available();
    expect(await tryDbLogin(lab, newPassword)).toBe('ok');
    expect(await tryDbLogin(lab, oldPassword)).toBe('auth-failed');
    expect(lab.logLines.join('\n')).toContain('lost-answer fault: rds ModifyDBInstance landed (HTTP 200); the connection was closed without its answer');
    lastPassword = newPassword;
  });

  it('delay: a caller without retries times out, and the change it never heard about still happens', async () => {
    const newPassword = 'Lost-answer-delay-0002-abcdefgh';
    await addFault({ kind: 'lost-answer', service: 'rds', action: 'ModifyDBInstance', mode: 'delay', ms: 5000, count: 1 });
    const client = consoleLikeRds({ maxAttempts: 1, requestTimeout: 1000, throwOnRequestTimeout: true });
    try {
      await expect(client.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: lab.rds.instanceId, MasterUserPassword: newPassword, ApplyImmediately: true }))).rejects.toMatchObject({
        name: 'TimeoutError',
      });
    } finally {
      client.destroy();
    }
    expect((await rdsView()).status).toBe('resetting-master-credentials');
    await available();
    expect(await tryDbLogin(lab, newPassword)).toBe('ok');
    expect(await tryDbLogin(lab, lastPassword)).toBe('auth-failed');
  });

  it('without a count holds for every matching call until removed, and other actions are untouched', async () => {
    const rule = await addFault({ kind: 'lost-answer', service: 'rds', action: 'ModifyDBInstance', mode: 'drop' });
    // DescribeDBInstances still answers; the rule names one action.
    expect((await rdsView()).status).toBe('available');
    for (let i = 0; i < 2; i++) {
      const failed = await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: lab.rds.instanceId, BackupRetentionPeriod: 2 + i, ApplyImmediately: true })).then(
        () => undefined,
        (err: Error & { $metadata?: { httpStatusCode?: number } }) => err,
      );
      // No HTTP answer at all: the SDK saw the connection close ("socket hang up").
      expect(failed?.message).toBe('socket hang up');
      expect(failed?.$metadata?.httpStatusCode).toBeUndefined();
    }
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([expect.objectContaining({ id: rule.id, kind: 'lost-answer', mode: 'drop' })]);
    await labApi(lab, 'DELETE', `/_lab/faults/${rule.id}`);
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: lab.rds.instanceId }));
    // The dropped calls landed: moto holds the second one's value.
    expect(DBInstances?.[0]?.BackupRetentionPeriod).toBe(3);
  });

  it('is checked strictly: delay needs ms, drop takes none, count is a whole number from 1', async () => {
    const bad = async (rule: Record<string, unknown>) => (await labApi<{ error: string }>(lab, 'POST', '/_lab/faults', rule)).body;
    expect(await bad({ kind: 'lost-answer', service: 'rds', mode: 'delay' })).toEqual({ error: 'ms: mode "delay" needs ms, how long the answer is held' });
    expect(await bad({ kind: 'lost-answer', service: 'rds', mode: 'drop', ms: 10 })).toEqual({ error: 'ms: only mode "delay" takes ms; "drop" never answers' });
    expect(await bad({ kind: 'lost-answer', service: 'rds', mode: 'drop', count: 0 })).toEqual({ error: 'count: count must be a whole number from 1' });
    expect(await bad({ kind: 'lost-answer', service: 'rds', mode: 'vanish' })).toMatchObject({ error: expect.stringMatching(/^mode: mode must be "drop"/) });
  });
});
