import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getRotation, rollbackRotation, rotationWorkSettled } from '@/lib/rotation';
import type { RotationView } from '@/lib/rotation/types';
import {
  addFault,
  clearFaults,
  finished,
  healthStatuses,
  logsIn,
  operator,
  requestCount,
  resetCounters,
  spawnReplica,
  startRotationLab,
  storedPasswords,
  viewer,
  waitForRotation,
  watchStoredPasswordsLogIn,
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
