import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import { closeStoreForTests, getStore } from '@/lib/store';
import type { RotationView } from '@/lib/rotation/types';
import { createStoreDatabase } from '../support/store-database';
import {
  finished,
  logsIn,
  requestCount,
  resetCounters,
  spawnReplica,
  startRotationLab,
  stopRotationLab,
  storedPasswords,
  viewer,
  waitForRotation,
  type Replica,
  type RotationLab,
} from './support';

// Two replicas, one store, one survivor: two console processes on two "hosts" (host names of their
// own, as two ECS tasks have) share one PostgreSQL store with a short lease. A rotation started on
// A, whose process is then killed, is taken over by B's periodic sweep once A's lease has run out,
// and completes with exactly one ModifyDBInstance; both replicas then show the same rotation.

const LEASE_SECONDS = '4';
let world: RotationLab;
const replicas: Replica[] = [];

beforeAll(async () => {
  // A reset phase longer than a lease renewal, so A dies while RDS is still applying the password.
  world = await startRotationLab({ resetSeconds: 4 });
  process.env.AUDIT_DATABASE_URL = await createStoreDatabase(world.lab, (await storedPasswords(world.lab)).current!.value, 'console_replicas');
  await closeStoreForTests();
});

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.kill()));
  delete process.env.AUDIT_DATABASE_URL;
  await stopRotationLab(world);
});

const stepIs = (name: string, status: string) => (v: RotationView) => v.steps.find((s) => s.name === name)?.status === status;

async function lockRow(): Promise<{ owner: string; expires_at: string } | undefined> {
  const store = await getStore();
  return store.db.selectFrom('console_locks').select(['owner', 'expires_at']).where('environment', '=', 'production').executeTakeFirst();
}

describe('two console replicas on one PostgreSQL store', () => {
  it("B's sweep takes over a rotation whose replica A was killed, once A's lease expired, and finishes it with one ModifyDBInstance", async () => {
    const { lab } = world;
    await resetCounters(lab);
    const lease = { OPS_LOCK_LEASE_SECONDS: LEASE_SECONDS };
    const b = spawnReplica(world, 'serve', lease, { host: 'console-b' });
    const a = spawnReplica(world, 'start', { ...lease, CALLER: 'alice@linkbox.lab' }, { host: 'console-a' });
    replicas.push(a, b);
    await Promise.all([a.waitFor('ready'), b.waitFor('serving')]);
    a.proc.stdin!.write('go\n');
    expect((await a.waitFor('started')).result).toMatchObject({ ok: true });

    // A dies while RDS applies the new password: after ModifyDBInstance, before promotion.
    await waitForRotation('production', stepIs('wait-available', 'running'), 60_000);
    const held = await lockRow();
    expect(held?.owner).toMatch(/^console-a\//);
    await a.kill();
    const leaseEnd = (await lockRow())!.expires_at;
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);

    const view = await waitForRotation('production', finished, 90_000);
    expect(view.state, JSON.stringify(view.steps)).toBe('completed');

    // B resumed it, and only after A's lease had run out.
    const audit = await listAudit(viewer, { environment: 'production' });
    const resumed = audit.filter((e) => e.action === 'rotation.resume');
    expect(resumed).toHaveLength(1);
    expect(resumed[0]!.actor).toBe('console');
    expect(Date.parse(resumed[0]!.at)).toBeGreaterThanOrEqual(Date.parse(leaseEnd));
    expect(audit.filter((e) => e.action === 'rotation' && e.outcome === 'success')).toEqual([expect.objectContaining({ actor: 'alice@linkbox.lab' })]);

    // Exactly one password change reached RDS, and SSM holds the password RDS accepts.
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);
    const stored = await storedPasswords(lab);
    expect(stored.pending).toBeNull();
    expect(await logsIn(lab, stored.current!.value)).toBe(true);

    // A console started again on host A and B show the same rotation.
    const again = spawnReplica(world, 'serve', lease, { host: 'console-a' });
    replicas.push(again);
    await again.waitFor('serving');
    for (const r of [b, again]) r.proc.stdin!.write('show 1\n');
    const [fromB, fromA] = await Promise.all([b.waitFor('view-1'), again.waitFor('view-1')]);
    expect(fromA.view).toEqual(fromB.view);
    expect(fromB.view).toMatchObject({ id: view.id, state: 'completed', by: 'alice@linkbox.lab' });

    for (const r of [b, again]) r.proc.stdin!.write('stop\n');
    expect(await Promise.all([b.exited, again.exited])).toEqual([0, 0]);
  });
});
