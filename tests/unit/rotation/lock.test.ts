import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeStoreForTests, getStore } from '@/lib/store';
import { acquireLock, currentLock } from '@/lib/operations/lock';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lock-test-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
});

afterAll(async () => {
  await closeStoreForTests();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  const store = await getStore();
  await store.db.deleteFrom('console_locks').execute();
});

describe('the per-environment lock', () => {
  it('lets one operation in and tells the second who holds it and since when', async () => {
    const first = await acquireLock('production', 'rotation', 'r1', 'alice@example.com');
    expect(first.ok).toBe(true);
    const second = await acquireLock('production', 'redeploy', 'd1', 'bob@example.com');
    expect(second).toMatchObject({ ok: false, heldBy: { by: 'alice@example.com', operation: 'rotation', operationId: 'r1' } });
    if (!second.ok) expect(Date.parse(second.heldBy.since)).not.toBeNaN();
  });

  it('is per environment', async () => {
    expect((await acquireLock('production', 'rotation', 'r1', 'alice')).ok).toBe(true);
    expect((await acquireLock('staging', 'rotation', 'r2', 'bob')).ok).toBe(true);
  });

  it('grants exactly one of many simultaneous requests', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => acquireLock('production', 'rotation', `r${i}`, `user${i}`)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it('is free again once released', async () => {
    const first = await acquireLock('production', 'rotation', 'r1', 'alice');
    if (!first.ok) throw new Error('expected the lock');
    await first.lock.release();
    expect(await currentLock('production')).toBeNull();
    expect((await acquireLock('production', 'rotation', 'r2', 'bob')).ok).toBe(true);
  });

  it('is taken over when its lease has run out, and the old holder learns it lost it', async () => {
    const first = await acquireLock('production', 'rotation', 'r1', 'alice');
    if (!first.ok) throw new Error('expected the lock');
    const store = await getStore();
    await store.db.updateTable('console_locks').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).execute();
    const second = await acquireLock('production', 'rotation', 'r2', 'bob');
    expect(second.ok).toBe(true);
    expect(await first.lock.renew()).toBe(false);
    expect(first.lock.lost).toMatch(/taken over/);
    // Releasing a lost lock must not free the new holder's lock.
    await first.lock.release();
    expect(await currentLock('production')).toMatchObject({ by: 'bob', operationId: 'r2' });
  });

  it('is taken over at once from a console process on this machine that has died', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']);
    const store = await getStore();
    const future = new Date(Date.now() + 60_000).toISOString();
    await store.db
      .insertInto('console_locks')
      .values({ environment: 'production', owner: `${hostname()}/${dead.pid}/abc123`, operation: 'rotation', operation_id: 'r-old', held_by: 'alice', since: new Date().toISOString(), expires_at: future })
      .execute();
    expect(await currentLock('production')).toMatchObject({ holderAlive: false });
    const taken = await acquireLock('production', 'rotation', 'r-old', 'alice');
    expect(taken.ok).toBe(true);
  });

  it('is not taken from a live holder on another machine before its lease ends', async () => {
    const store = await getStore();
    await store.db
      .insertInto('console_locks')
      .values({ environment: 'production', owner: 'other-host/1/abc', operation: 'rotation', operation_id: 'r-other', held_by: 'carol', since: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString() })
      .execute();
    const attempt = await acquireLock('production', 'rotation', 'r3', 'dave');
    expect(attempt).toMatchObject({ ok: false, heldBy: { by: 'carol' } });
  });
});
