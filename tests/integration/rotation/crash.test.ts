import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startRedeploy } from '@/lib/deploy';
import { getRotation, rollbackRotation, rotationWorkSettled, startRotation } from '@/lib/rotation';
import { awsCli, eventually } from '../support/lab';
import type { RotationView } from '@/lib/rotation/types';
import {
  addFault,
  clearFaults,
  finished,
  healthStatuses,
  logsIn,
  operator,
  rdsInstanceState,
  requestCount,
  resetCounters,
  spawnReplica,
  startRotationLab,
  storedPasswords,
  viewer,
  waitForRotation,
  watchStoredPasswordsLogIn,
  writeConsoleConfigVariant,
  type RotationLab,
  stopRotationLab,
} from './support';

// A console killed with SIGKILL at each step of a rotation, then a new console process started
// (as instrumentation.ts does at start-up). Lab latency faults hold a step open long enough to kill
// the console inside it. All along, a watcher checks that a password stored in SSM logs in.

let world: RotationLab;

beforeAll(async () => {
  // A longer reset phase keeps "during the wait" open long enough to kill the console in it.
  world = await startRotationLab({ resetSeconds: 4 });
});

afterAll(async () => {
  await stopRotationLab(world);
});

afterEach(async () => {
  await clearFaults(world.lab);
});

const stepIs = (name: string, ...statuses: string[]) => (v: RotationView) => statuses.includes(v.steps.find((s) => s.name === name)?.status ?? '');

interface CrashCase {
  where: string;
  fault?: Record<string, unknown>;
  killWhen: (v: RotationView) => boolean;
  /** Also true at the moment of the kill (checked against lab counters). */
  modifyCallsAtKill?: (n: number) => boolean;
}

const cases: CrashCase[] = [
  {
    where: 'after the pending password is stored, before ModifyDBInstance',
    fault: { kind: 'latency', service: 'ssm', action: 'GetParameters', ms: 2500 },
    killWhen: stepIs('store-pending', 'done'),
    modifyCallsAtKill: (n) => n === 0,
  },
  {
    where: 'while ModifyDBInstance is in flight',
    fault: { kind: 'latency', service: 'rds', action: 'ModifyDBInstance', ms: 3000 },
    killWhen: stepIs('modify-db', 'running'),
  },
  {
    where: 'during the wait for RDS to apply the password',
    killWhen: stepIs('wait-available', 'running'),
    modifyCallsAtKill: (n) => n === 1,
  },
  {
    where: 'after promotion, before the pending slot is removed',
    fault: { kind: 'latency', service: 'ssm', action: 'DeleteParameter', ms: 3000 },
    killWhen: stepIs('promote', 'done'),
  },
  {
    where: 'in the middle of the rolling restart',
    killWhen: stepIs('restart', 'running'),
  },
];

describe('a console killed during a rotation', () => {
  for (const c of cases) {
    it(`resumes and completes when killed ${c.where}, and a stored password logs in throughout`, async () => {
      const { lab } = world;
      const before = await storedPasswords(lab);
      const previousId = (await getRotation(viewer, 'production'))?.id;
      await resetCounters(lab);
      const watcher = watchStoredPasswordsLogIn(lab);
      if (c.fault) await addFault(lab, c.fault);

      const first = spawnReplica(world, 'start');
      await first.waitFor('ready');
      first.proc.stdin!.write('go\n');
      await waitForRotation('production', (v) => v.id !== previousId && (c.killWhen(v) || finished(v)), 60_000);
      await first.kill();
      const atKill = await getRotation(viewer, 'production');
      expect(atKill?.state, `the rotation finished before the kill: ${atKill?.error}`).toBe('running');
      if (c.modifyCallsAtKill) expect(c.modifyCallsAtKill(await requestCount(lab, 'rds', 'ModifyDBInstance'))).toBe(true);
      await clearFaults(lab);

      const second = spawnReplica(world, 'resume');
      expect(await second.exited, second.output.join('\n')).toBe(0);
      const view = await waitForRotation('production', finished);
      const watched = await watcher.stop();

      expect(view.error).toBeNull();
      expect(view.state).toBe('completed');
      expect(watched.failures).toEqual([]);
      expect(watched.checks).toBeGreaterThan(0);
      const after = await storedPasswords(lab);
      expect(after.pending).toBeNull();
      expect(after.current!.value).not.toBe(before.current!.value);
      expect(await logsIn(lab, after.current!.value)).toBe(true);
      expect(await logsIn(lab, before.current!.value)).toBe(false);
      expect(await healthStatuses(lab)).toEqual(lab.instances.map(() => 200));
    });
  }

  it('can be rolled back instead of resumed before promotion: RDS goes back to the current password and the pending slot is removed', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    const previousId = (await getRotation(viewer, 'production'))?.id;
    const watcher = watchStoredPasswordsLogIn(lab);
    const first = spawnReplica(world, 'start');
    await first.waitFor('ready');
    first.proc.stdin!.write('go\n');
    await waitForRotation('production', (v) => v.id !== previousId && stepIs('wait-available', 'running')(v), 60_000);
    await first.kill();

    const stranded = await getRotation(viewer, 'production');
    expect(stranded).toMatchObject({ state: 'running', canRollBack: true, lock: null });
    // Waiting to resume, nobody holding the lock: a redeploy would restart the backends on a password RDS may no longer hold.
    expect(await startRedeploy(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({
      ok: false,
      error: expect.stringMatching(new RegExp(`rotation ${stranded!.id} .* is unfinished; .*on /environments/production/rotate`)),
    });
    expect(await rollbackRotation(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    await rotationWorkSettled('production');
    const view = await waitForRotation('production', finished);
    const watched = await watcher.stop();

    expect(view.state, view.error ?? '').toBe('rolled-back');
    expect(watched.failures).toEqual([]);
    const after = await storedPasswords(lab);
    expect(after.pending).toBeNull();
    expect(after.current).toEqual(before.current);
    expect(await logsIn(lab, before.current!.value)).toBe(true);
    expect(await healthStatuses(lab)).toEqual(lab.instances.map(() => 200));
  });
});

describe('ModifyDBInstance landed but its answer was lost', () => {
  const stepDetail = (v: RotationView, name: string) => v.steps.find((s) => s.name === name)?.detail ?? '';

  it('without a crash: the SDK\'s retry is refused while RDS resets, the pending password is kept, proven to log in, and the rotation completes', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    await resetCounters(lab);
    const watcher = watchStoredPasswordsLogIn(lab);
    await addFault(lab, { kind: 'lost-answer', service: 'rds', action: 'ModifyDBInstance', mode: 'drop', count: 1 });

    expect(await startRotation(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    await rotationWorkSettled('production');
    const view = await waitForRotation('production', finished);
    const watched = await watcher.stop();

    expect(view.state, view.error ?? '').toBe('completed');
    expect(stepDetail(view, 'modify-db')).toMatch(/InvalidDBInstanceState.*the new password logs in: RDS took it/);
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(2);
    expect(watched.failures).toEqual([]);
    const after = await storedPasswords(lab);
    expect(after.pending).toBeNull();
    expect(after.current!.value).not.toBe(before.current!.value);
    expect(await logsIn(lab, after.current!.value)).toBe(true);
  });

  /** Starts a rotation in a replica and kills it once RDS took the password but before the console heard back. */
  async function killedWithModifyLanded(): Promise<{ pending: string }> {
    const { lab } = world;
    const previousId = (await getRotation(viewer, 'production'))?.id;
    await addFault(lab, { kind: 'lost-answer', service: 'rds', action: 'ModifyDBInstance', mode: 'delay', ms: 60_000, count: 1 });
    const first = spawnReplica(world, 'start');
    await first.waitFor('ready');
    first.proc.stdin!.write('go\n');
    await eventually(async () => ((await rdsInstanceState(lab)).passwordPending ? true : undefined), 'ModifyDBInstance to land', 60_000, 100);
    await first.kill();
    const atKill = await getRotation(viewer, 'production');
    expect(atKill?.id).not.toBe(previousId);
    expect(atKill?.steps.find((s) => s.name === 'modify-db')?.status).toBe('running');
    await clearFaults(lab);
    return { pending: (await storedPasswords(lab)).pending!.value };
  }

  it('with the console killed right after, resumed while ModifyDBInstance is denied: the pending password is proven to log in and the rotation completes', async () => {
    const { lab } = world;
    const watcher = watchStoredPasswordsLogIn(lab);
    const { pending } = await killedWithModifyLanded();
    await addFault(lab, { kind: 'error', service: 'rds', action: 'ModifyDBInstance', error: 'AccessDeniedException', probability: 1 });

    const second = spawnReplica(world, 'resume');
    expect(await second.exited, second.output.join('\n')).toBe(0);
    const view = await waitForRotation('production', finished);
    const watched = await watcher.stop();

    expect(view.state, view.error ?? '').toBe('completed');
    expect(stepDetail(view, 'modify-db')).toMatch(/RDS already had the new password/);
    expect(watched.failures).toEqual([]);
    expect((await storedPasswords(lab)).current!.value).toBe(pending);
    expect(await healthStatuses(lab)).toEqual(lab.instances.map(() => 200));
  });

  it('with the console killed right after, resumed while ModifyDBInstance is denied and the console cannot reach the database: nothing is deleted, and a rollback later proves and restores the current password', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    const watcher = watchStoredPasswordsLogIn(lab);
    const { pending } = await killedWithModifyLanded();
    await addFault(lab, { kind: 'error', service: 'rds', action: 'ModifyDBInstance', error: 'AccessDeniedException', probability: 1 });
    // The console inside the VPC, cut off by its own security group; the watcher's tunnel still gets through.
    const inVpc = writeConsoleConfigVariant(world, 'in-vpc', ({ reachVia: _tunnel, ...production }) => production);
    const consoleGroup = (
      await awsCli(lab, ['ec2', 'describe-security-groups', '--filters', 'Name=group-name,Values=linkbox-ops-console-sg', '--query', 'SecurityGroups[0].GroupId', '--output', 'text'])
    ).stdout.trim();
    const rule = ['--group-id', lab.vpc.dbSecurityGroupId, '--protocol', 'tcp', '--port', String(lab.rds.port), '--source-group', consoleGroup];
    expect((await awsCli(lab, ['ec2', 'revoke-security-group-ingress', ...rule])).code).toBe(0);
    await lab.networkSynced();
    await resetCounters(lab);
    try {
      const second = spawnReplica(world, 'resume', { LINKBOX_CONFIG: inVpc, ROTATION_LOGIN_TIMEOUT_MS: '5000' });
      expect(await second.exited, second.output.join('\n')).toBe(0);
      const view = await waitForRotation('production', finished);
      expect(view.state).toBe('failed');
      expect(view.error).toMatch(/neither the pending nor the current password logs in after the console resumed .*Both are kept/);
      expect(view.canRollBack).toBe(true);
      // Stopped before promotion, RDS holding the pending password: no redeploy, no second rotation, until it is rolled back.
      for (const refused of [
        await startRedeploy(operator, 'production', { confirmEnvironment: 'production' }),
        await startRotation(operator, 'production', { confirmEnvironment: 'production' }),
      ]) {
        expect(refused).toMatchObject({ ok: false, error: expect.stringMatching(new RegExp(`rotation ${view.id} stopped before promotion.*on /environments/production/rotate`)) });
      }
      expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(0);
      expect(await storedPasswords(lab)).toEqual({ current: before.current, pending: expect.objectContaining({ value: pending }) });
    } finally {
      await awsCli(lab, ['ec2', 'authorize-security-group-ingress', ...rule]);
      await clearFaults(lab);
      await lab.networkSynced();
    }

    expect(await rollbackRotation(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    await rotationWorkSettled('production');
    const rolledBack = await waitForRotation('production', finished);
    const watched = await watcher.stop();
    expect(rolledBack.state, rolledBack.error ?? '').toBe('rolled-back');
    expect(watched.failures).toEqual([]);
    expect(await storedPasswords(lab)).toEqual({ current: before.current, pending: null });
    expect(await logsIn(lab, before.current!.value)).toBe(true);
  });
});
