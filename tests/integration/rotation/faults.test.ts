import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import { getRedeploy, startRedeploy } from '@/lib/deploy';
import { setRolloutTimingsForTests } from '@/lib/operations/rollout';
import { rotationWorkSettled, startRotation } from '@/lib/rotation';
import { currentLock } from '@/lib/operations/lock';
import { awsCli } from '../support/lab';
import {
  addFault,
  clearFaults,
  finished,
  healthStatuses,
  logsIn,
  operator,
  requestCount,
  resetCounters,
  startRotationLab,
  storedPasswords,
  viewer,
  waitForRotation,
  type RotationLab,
  stopRotationLab,
} from './support';

let world: RotationLab;

beforeAll(async () => {
  world = await startRotationLab();
  // A backend that stays down should stop the rollout in seconds, not the production two minutes.
  setRolloutTimingsForTests({ healthTimeoutMs: 8000, commandTimeoutMs: 30_000 });
});

afterAll(async () => {
  await stopRotationLab(world);
});

afterEach(async () => {
  await clearFaults(world.lab);
});

async function rdsStatus(): Promise<string> {
  const out = await awsCli(world.lab, ['rds', 'describe-db-instances', '--db-instance-identifier', world.lab.rds.instanceId]);
  return (out.json as { DBInstances: Array<{ DBInstanceStatus: string }> }).DBInstances[0]!.DBInstanceStatus;
}

describe('rotation faults', () => {
  it('KMS denying the pending write stops before ModifyDBInstance: the database and db-password are unchanged and the lock is free', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    await resetCounters(lab);
    await addFault(lab, { kind: 'kms-denied' });

    const started = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
    expect(started.ok).toBe(true);
    await rotationWorkSettled('production');
    const view = await waitForRotation('production', finished);
    await clearFaults(lab);

    expect(view.state).toBe('failed');
    expect(view.steps.find((s) => s.name === 'store-pending')).toMatchObject({ status: 'failed', detail: expect.stringMatching(/KMS/) });
    expect(view.error).toMatch(/RDS was not changed/);
    expect(view.canRollBack).toBe(false);
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(0);
    expect(await storedPasswords(lab)).toEqual({ current: before.current, pending: null });
    expect(await logsIn(lab, before.current!.value)).toBe(true);
    expect(await currentLock('production')).toBeNull();
    expect((await listAudit(viewer, { environment: 'production' }))[0]).toMatchObject({ action: 'rotation', outcome: 'failure' });
  });

  it('ModifyDBInstance answering InvalidDBInstanceState leaves SSM as it was and releases the lock', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    await resetCounters(lab);
    // Hold the pending write open while the instance is stopped the way an operator would.
    await addFault(lab, { kind: 'latency', service: 'ssm', action: 'PutParameter', ms: 3000 });
    const started = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
    expect(started.ok).toBe(true);
    expect((await awsCli(lab, ['rds', 'stop-db-instance', '--db-instance-identifier', lab.rds.instanceId])).code).toBe(0);
    try {
      await rotationWorkSettled('production');
      const view = await waitForRotation('production', finished);

      expect(view.state).toBe('failed');
      expect(view.steps.find((s) => s.name === 'modify-db')?.status).toBe('failed');
      expect(view.error).toMatch(/InvalidDBInstanceState/);
      expect(view.error).toMatch(/database is unchanged and the pending password was removed/);
      expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);
      expect(await storedPasswords(lab)).toEqual({ current: before.current, pending: null });
      expect(await currentLock('production')).toBeNull();
    } finally {
      await awsCli(lab, ['rds', 'start-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
    }
    for (let i = 0; i < 50 && (await rdsStatus()) !== 'available'; i++) await new Promise((r) => setTimeout(r, 200));
    let back = false;
    for (let i = 0; i < 30 && !back; i++) {
      back = await logsIn(lab, before.current!.value);
      if (!back) await new Promise((r) => setTimeout(r, 500));
    }
    expect(back).toBe(true);
  });

  it('a preflight that finds RDS not available refuses at once, changing nothing', async () => {
    const { lab } = world;
    await resetCounters(lab);
    expect((await awsCli(lab, ['rds', 'stop-db-instance', '--db-instance-identifier', lab.rds.instanceId])).code).toBe(0);
    try {
      const result = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/is stopped; rotate when it is available/) });
      expect(await requestCount(lab, 'ssm', 'PutParameter')).toBe(0);
      expect(await currentLock('production')).toBeNull();
    } finally {
      await awsCli(lab, ['rds', 'start-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
    }
  });
});

describe('rolling redeploy faults', () => {
  it('a backend whose container crashed stops the rollout, naming that instance', async () => {
    const { lab } = world;
    const [firstId, secondId] = lab.instances.map((i) => i.id).sort();
    await addFault(lab, { kind: 'container', instanceId: secondId, mode: 'crashed' });
    const started = await startRedeploy(operator, 'production', { confirmEnvironment: 'production' });
    expect(started.ok).toBe(true);
    const view = await waitForRedeploy();
    expect(view.state).toBe('failed');
    expect(view.error).toContain(secondId);
    expect(view.instances.map((i) => [i.instanceId, i.status])).toEqual([
      [firstId, 'done'],
      [secondId, 'failed'],
    ]);
    expect(await currentLock('production')).toBeNull();
  });

  it('a backend that answers /health 503 after its restart stops the rollout before the next instance goes down', async () => {
    const { lab } = world;
    await clearFaults(lab);
    const [firstId, secondId] = lab.instances.map((i) => i.id).sort();
    await resetCounters(lab);
    await addFault(lab, { kind: 'container', instanceId: firstId, mode: 'unhealthy' });
    const started = await startRedeploy(operator, 'production', { confirmEnvironment: 'production', imageTag: 'v2.0.1' });
    expect(started.ok).toBe(true);
    const view = await waitForRedeploy();
    expect(view.state).toBe('failed');
    expect(view.error).toMatch(new RegExp(`${firstId}.*did not come back healthy.*503`));
    expect(view.instances.map((i) => [i.instanceId, i.status])).toEqual([
      [firstId, 'failed'],
      [secondId, 'skipped'],
    ]);
    expect(await requestCount(lab, 'ssm', 'SendCommand')).toBe(1);
    await clearFaults(lab);
    const statuses = await healthStatuses(lab);
    expect(statuses[lab.instances.findIndex((i) => i.id === secondId)]).toBe(200);
  });
});

async function waitForRedeploy() {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const view = await getRedeploy(viewer, 'production');
    if (view && view.state !== 'running') return view;
    if (Date.now() > deadline) throw new Error(`redeploy still running: ${JSON.stringify(view)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

