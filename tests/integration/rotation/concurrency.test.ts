import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import { closeStoreForTests } from '@/lib/store';
import { getRotation, rotationWorkSettled, startRotation } from '@/lib/rotation';
import type { StartRotationResult } from '@/lib/rotation/types';
import {
  createStoreDatabase,
  finished,
  logsIn,
  operator,
  requestCount,
  resetCounters,
  spawnReplica,
  startRotationLab,
  stopRotationLab,
  storedPasswords,
  viewer,
  waitForRotation,
  type RotationLab,
} from './support';

let world: RotationLab;

beforeAll(async () => {
  world = await startRotationLab();
});

afterAll(async () => {
  delete process.env.AUDIT_DATABASE_URL;
  await stopRotationLab(world);
});

describe('two rotation requests at once', () => {
  it('in one console: exactly one ModifyDBInstance, and the second request is told who holds the lock', async () => {
    const { lab } = world;
    await resetCounters(lab);
    const alice = { ...operator, id: 'alice@linkbox.lab' };
    const bob = { ...operator, id: 'bob@linkbox.lab' };
    const results = await Promise.all([
      startRotation(alice, 'production', { confirmEnvironment: 'production' }),
      startRotation(bob, 'production', { confirmEnvironment: 'production' }),
    ]);
    await rotationWorkSettled('production');
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    const refused = results.find((r) => !r.ok) as Extract<StartRotationResult, { ok: false }>;
    const winner = results[0]!.ok ? alice.id : bob.id;
    expect(refused.heldBy?.by).toBe(winner);
    expect(Date.parse(refused.heldBy!.since)).not.toBeNaN();
    expect((await waitForRotation('production', finished)).state).toBe('completed');
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);
  });

  it('in two console replicas sharing a PostgreSQL store: exactly one ModifyDBInstance', async () => {
    const { lab } = world;
    process.env.AUDIT_DATABASE_URL = await createStoreDatabase(lab, 'console_store');
    await closeStoreForTests();
    await resetCounters(lab);
    const previousId = (await getRotation(viewer, 'production'))?.id ?? null;
    expect(previousId).toBeNull(); // a fresh store knows nothing of the SQLite rotations

    const replicas = [
      spawnReplica(world, 'start', { CALLER: 'alice@linkbox.lab' }),
      spawnReplica(world, 'start', { CALLER: 'bob@linkbox.lab' }),
    ];
    try {
      await Promise.all(replicas.map((r) => r.waitFor('ready')));
      for (const r of replicas) r.proc.stdin!.write('go\n');
      const started = await Promise.all(replicas.map((r) => r.waitFor('started')));
      const results = started.map((e) => e.result as StartRotationResult);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      const loser = results.findIndex((r) => !r.ok);
      const refused = results[loser] as Extract<StartRotationResult, { ok: false }>;
      expect(refused.heldBy?.by).toBe(loser === 0 ? 'bob@linkbox.lab' : 'alice@linkbox.lab');
      expect(await Promise.all(replicas.map((r) => r.exited))).toEqual([0, 0]);
    } finally {
      await Promise.all(replicas.map((r) => r.kill()));
    }

    const view = await waitForRotation('production', finished);
    expect(view.state).toBe('completed');
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);
    const after = await storedPasswords(lab);
    expect(await logsIn(lab, after.current!.value)).toBe(true);
    const audit = await listAudit(viewer, { environment: 'production' });
    expect(audit.filter((e) => e.action === 'rotation.start' && e.outcome === 'refused')).toHaveLength(1);
    expect(audit.filter((e) => e.action === 'rotation' && e.outcome === 'success')).toHaveLength(1);
  });
});
