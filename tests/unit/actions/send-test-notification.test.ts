import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { sendTestNotificationAction } from '@/lib/actions/send-test-notification';
import { listAudit } from '@/lib/audit';
import { setConfigForTests } from '@/lib/config/load';
import type { Caller } from '@/lib/roles';
import { closeStoreForTests } from '@/lib/store';
import { getNotificationSettings } from '@/lib/watcher';

// The admin's test notification: built from the action chain (session, admin role, strict input),
// sent to every webhook at once, each outcome shown and audited, no URL anywhere but the request.
// The session is faked (it needs a browser's cookie); the webhooks are real HTTP servers.

const session = vi.hoisted(() => ({ current: null as null | { caller: Caller; authTime: number } }));
vi.mock('@/lib/auth/session', () => ({
  getSessionInfo: async () => session.current,
  signInPath: (returnTo: string) => `/signin?callbackUrl=${encodeURIComponent(returnTo)}`,
}));

const admin: Caller = { id: 'admin@linkbox.lab', role: 'admin', via: 'session' };
const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };
let dir: string;
let server: Server;
const bodies: Array<Record<string, unknown>> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'test-notification-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
  await closeStoreForTests();
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      bodies.push(JSON.parse(text));
      res.writeHead(req.url?.startsWith('/broken') ? 502 : 200).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  process.env.ALERT_WEBHOOK_URLS = `slack+${base}/broken?token=env-s3cret`;
  setConfigForTests({
    mode: 'aws',
    publicUrl: 'https://ops.example.com',
    environments: [{ name: 'production', kind: 'aws', region: 'us-east-1', rdsInstanceId: 'linkbox-db', dbSecurityGroup: { ids: ['sg-1'] }, backendSecurityGroup: { ids: ['sg-2'] }, backendInstances: { ids: ['i-1'] } }],
    notifications: { webhooks: [{ name: 'ops', url: `${base}/hook?token=config-s3cret` }] },
  });
});

afterAll(async () => {
  delete process.env.ALERT_WEBHOOK_URLS;
  await closeStoreForTests();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('the test notification', () => {
  it('is refused to an operator, audited, and sends nothing', async () => {
    session.current = { caller: operator, authTime: Date.now() / 1000 };
    expect(await sendTestNotificationAction({}, new FormData())).toEqual({ error: 'You are signed in as operator; sending a test notification needs admin.' });
    expect(bodies).toHaveLength(0);
    expect((await listAudit(admin))[0]).toMatchObject({ action: 'notification.test', outcome: 'refused', actor: 'operator@linkbox.lab' });
  });

  it('goes to every webhook at once, says how each answered, and audits it without a URL', async () => {
    session.current = { caller: admin, authTime: Date.now() / 1000 };
    const state = await sendTestNotificationAction({}, new FormData());
    expect(state.error).toMatch(/^Delivered to 1 of 2 webhooks: ops delivered \(HTTP 200\), env-[0-9a-f]{8} failed \(HTTP 502\)\.$/);
    expect(bodies).toHaveLength(2);
    expect(bodies.find((b) => 'blocks' in b)).toBeDefined(); // the slack+ webhook got Block Kit
    expect(bodies.find((b) => b.kind === 'test')).toMatchObject({ source: 'linkbox-ops-console', environment: null, consoleUrl: 'https://ops.example.com' });
    const audit = (await listAudit(admin)).filter((e) => e.actor === admin.id);
    expect(audit.map((e) => `${e.action} ${e.outcome}`).sort()).toEqual(['notification.delivery failure', 'notification.delivery success', 'notification.test failure']);
    expect(JSON.stringify(await listAudit(admin))).not.toMatch(/s3cret|\/hook|\/broken/);
  });

  it('takes no input: anything posted is refused before anything is sent', async () => {
    const form = new FormData();
    form.set('url', 'http://attacker.example/');
    expect((await sendTestNotificationAction({}, form)).error).toBe('The request was refused: fields this action does not take.');
    expect(bodies).toHaveLength(2);
  });

  it('shows the admin each webhook masked', async () => {
    const settings = await getNotificationSettings(admin);
    expect(settings.webhooks.map((w) => [w.name.replace(/[0-9a-f]{8}$/, 'x'), w.format, w.source, w.maskedUrl.replace(/:\d+\//, ':PORT/')])).toEqual([
      ['ops', 'json', 'config', 'http://127.0.0.1:PORT/****'],
      ['env-x', 'slack', 'ALERT_WEBHOOK_URLS', 'http://127.0.0.1:PORT/****'],
    ]);
    await expect(getNotificationSettings(operator)).rejects.toThrow('operator@linkbox.lab is operator; this needs admin');
  });
});
