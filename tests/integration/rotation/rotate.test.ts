import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import { getRotation, rotationWorkSettled, startRotation } from '@/lib/rotation';
import { finished, healthStatuses, logsIn, operator, requestCount, resetCounters, startRotationLab, storedPasswords, viewer, waitForRotation, stopRotationLab, type RotationLab } from './support';

let world: RotationLab;

beforeAll(async () => {
  world = await startRotationLab();
});

afterAll(async () => {
  await stopRotationLab(world);
});

describe('a rotation in the lab', () => {
  it('stores a new db-password version that logs in, retires the old one, restarts both backends healthy, and leaves no secret behind', async () => {
    const { lab } = world;
    const before = await storedPasswords(lab);
    expect(before.current).not.toBeNull();
    expect(await logsIn(lab, before.current!.value)).toBe(true);
    await resetCounters(lab);

    const started = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
    expect(started).toMatchObject({ ok: true });
    await rotationWorkSettled('production');
    const view = await waitForRotation('production', finished);
    expect(view.error).toBeNull();
    expect(view.state).toBe('completed');
    expect(view.steps.every((s) => s.status === 'done')).toBe(true);

    const after = await storedPasswords(lab);
    expect(after.pending).toBeNull();
    expect(after.current!.version).toBeGreaterThan(before.current!.version);
    expect(after.current!.value).not.toBe(before.current!.value);
    expect(await logsIn(lab, after.current!.value)).toBe(true);
    expect(await logsIn(lab, before.current!.value)).toBe(false);
    expect(await healthStatuses(lab)).toEqual(lab.instances.map(() => 200));
    expect(await requestCount(lab, 'rds', 'ModifyDBInstance')).toBe(1);
    expect(await requestCount(lab, 'ssm', 'SendCommand')).toBe(lab.instances.length);

    const audit = await listAudit(viewer, { environment: 'production' });
    const done = audit.find((e) => e.action === 'rotation');
    expect(done).toMatchObject({ actor: operator.id, role: 'operator', outcome: 'success' });
    expect(Object.keys(done!.stepTimings ?? {})).toEqual(expect.arrayContaining(['modify-db', 'promote', 'restart']));

    // Every byte the console stored: the audit log, the lock table, rotation and redeploy progress.
    const db = new Database(world.sqlitePath, { readonly: true });
    const everything = ['audit_log', 'console_locks', 'rotations', 'redeploys']
      .map((t) => JSON.stringify(db.prepare(`SELECT * FROM ${t}`).all()))
      .join('\n');
    db.close();
    for (const secret of [before.current!.value, after.current!.value]) {
      expect(everything).not.toContain(secret);
      expect(JSON.stringify(await getRotation(viewer, 'production'))).not.toContain(secret);
      expect(lab.logLines.join('\n')).not.toContain(secret);
    }
  });
});
