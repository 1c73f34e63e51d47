import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import type { CheckResult, EnvironmentStatus } from '@/lib/checks/types';
import { setConfigForTests } from '@/lib/config/load';
import type { Caller } from '@/lib/roles';
import { closeStoreForTests, getStore } from '@/lib/store';
import { getEnvironmentHistory } from '@/lib/watcher/history';
import { currentLeader, holdLease, releaseLease } from '@/lib/watcher/lease';
import { recordLook, type LookSettings } from '@/lib/watcher/observe';
import { deliverDue } from '@/lib/watcher/outbox';

// The watcher's tables in a real SQLite store: the lease, one look's record (history, damping,
// the outbox), and the outbox's retries against a real HTTP receiver.

const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
let dir: string;
let receiver: Server;
const received: Array<{ status: number; body: { id: string; kind: string; message: string } }> = [];
let answers: number[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'watcher-store-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
  await closeStoreForTests();
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const status = answers.shift() ?? 200;
      received.push({ status, body: JSON.parse(body) });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  setConfigForTests({
    mode: 'aws',
    environments: [{ name: 'production', kind: 'aws', region: 'us-east-1', rdsInstanceId: 'linkbox-db', dbSecurityGroup: { ids: ['sg-1'] }, backendSecurityGroup: { ids: ['sg-2'] }, backendInstances: { ids: ['i-1'] } }],
    notifications: { webhooks: [{ name: 'ops', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook?token=s3cret` }], maxAttempts: 3, retryAfterSeconds: 0.1 },
  });
});

afterAll(async () => {
  await closeStoreForTests();
  await new Promise((r) => receiver.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the watcher lease', () => {
  it('goes to one replica, is renewed by it, and is taken over only once it ran out or was released', async () => {
    const t0 = new Date('2026-12-05T12:00:00Z');
    const later = (ms: number) => new Date(t0.getTime() + ms);
    expect(await Promise.all([holdLease(3000, 'a', t0), holdLease(3000, 'b', t0)])).toEqual([true, false]);
    expect(await holdLease(3000, 'a', later(2000))).toBe(true);
    expect(await holdLease(3000, 'b', later(4000))).toBe(false); // renewed at +2 s: valid until +5 s
    expect(await holdLease(3000, 'b', later(5001))).toBe(true);
    expect((await currentLeader(later(5001)))?.owner).toBe('b');
    await releaseLease('b');
    expect(await holdLease(3000, 'a', later(5002))).toBe(true);
    await releaseLease('a');
  });
});

const check = (id: CheckResult['id'], status: CheckResult['status'], summary = `${id} ${status}`): CheckResult => ({ id, status, summary, evidence: {} });
function statusAt(minute: number, overall: EnvironmentStatus['overall'], failing?: CheckResult['id']): EnvironmentStatus {
  return {
    environment: 'production',
    kind: 'aws',
    overall,
    rootCause: failing ?? null,
    checkedAt: new Date(Date.UTC(2026, 11, 5, 12, minute)).toISOString(),
    stale: false,
    password: { type: 'SecureString', version: 3, lastModified: '2026-11-01T00:00:00.000Z' },
    checks: [check('rds.status', 'pass'), check('db.login', failing === 'db.login' ? 'fail' : 'pass', failing === 'db.login' ? 'password authentication failed' : 'logged in')],
  };
}

describe('a look of the watcher', () => {
  const settings = (targets: LookSettings['targets'] = []): LookSettings => ({ intervalMs: 60_000, announceAfter: 2, publicUrl: 'https://ops.example.com', targets });
  const at = (minute: number) => new Date(Date.UTC(2026, 11, 5, 12, minute, 5));

  it('records each change once, announces a state that held for two looks, and only one of two racing replicas records a look', async () => {
    const ops = [{ name: 'ops', url: 'http://127.0.0.1:9/unused', format: 'json' as const, source: 'config' as const }];
    expect((await recordLook(statusAt(0, 'healthy'), settings(ops), at(0))).announced).toBeNull();
    expect((await recordLook(statusAt(1, 'broken', 'db.login'), settings(ops), at(1))).announced).toBeNull();
    // Two replicas record the same look at once: one wins, the other writes nothing.
    const racing = await Promise.all([recordLook(statusAt(2, 'broken', 'db.login'), settings(ops), at(2)), recordLook(statusAt(2, 'broken', 'db.login'), settings(ops), at(2))]);
    expect(racing.map((r) => r.recorded).sort()).toEqual([false, true]);
    const announced = racing.find((r) => r.recorded)!.announced!;
    expect(announced).toMatchObject({ kind: 'state-change', previousState: 'healthy', state: 'broken', rootCause: { check: 'db.login' } });
    expect((await recordLook(statusAt(3, 'broken', 'db.login'), settings(ops), at(3))).announced).toBeNull();

    const store = await getStore();
    expect(await store.db.selectFrom('notification_outbox').select(['event_id', 'target', 'state']).execute()).toEqual([{ event_id: announced.id, target: 'ops', state: 'pending' }]);
    const history = await store.db.selectFrom('watch_history').select(['subject', 'state', 'at']).orderBy('id').execute();
    expect(history.map((h) => `${h.subject}=${h.state}`)).toEqual(['overall=healthy', 'rds.status=pass', 'db.login=pass', 'overall=broken', 'db.login=fail']);
    await store.db.deleteFrom('notification_outbox').execute();
  });

  it('marks a gap as no data once the watcher missed three looks, and shows it in the history', async () => {
    await recordLook(statusAt(30, 'broken', 'db.login'), settings(), at(30));
    const history = await getEnvironmentHistory(viewer, 'production', at(31));
    expect(history.lastLookAt).toBe(at(30).toISOString());
    expect(history.changes.filter((c) => c.subject === 'overall').map((c) => c.state)).toEqual(['broken', 'no-data', 'broken', 'healthy']);
    expect(history.incidents[0]).toMatchObject({ start: statusAt(1, 'broken').checkedAt, end: null, rootCauses: [{ check: 'db.login', summary: 'password authentication failed' }] });
  });
});

describe('the outbox', () => {
  it('tries a failing webhook again with backoff, delivers once, audits every attempt and never names the URL', async () => {
    answers = [500, 503];
    received.length = 0;
    const store = await getStore();
    await recordLook(statusAt(40, 'healthy'), { intervalMs: 60_000, announceAfter: 1, publicUrl: null, targets: [{ name: 'ops', url: 'ignored: looked up by name', format: 'json', source: 'config' }] });
    const config = (await import('@/lib/config/load')).getConfig();
    for (let i = 0; i < 40 && received.filter((r) => r.status === 200).length === 0; i++) {
      await deliverDue(config);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(received.map((r) => r.status)).toEqual([500, 503, 200]);
    expect(new Set(received.map((r) => r.body.id)).size).toBe(1);
    expect(received[0]!.body.kind).toBe('recovery');
    expect(await store.db.selectFrom('notification_outbox').select(['state', 'attempts']).execute()).toEqual([{ state: 'delivered', attempts: 3 }]);
    const audit = (await listAudit(viewer)).filter((e) => e.action === 'notification.delivery');
    expect(audit.map((e) => e.outcome)).toEqual(['success', 'failure', 'failure']);
    expect(audit[2]!.detail).toMatch(/to webhook "ops" \(json\): attempt 1 of 3 failed \(HTTP 500\); trying again in 0\.1 s$/);
    expect(audit[0]!.detail).toMatch(/delivered \(HTTP 200\) on attempt 3$/);
    expect(JSON.stringify(audit)).not.toContain('s3cret');
  });
});
