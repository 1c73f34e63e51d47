import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import type { EnvironmentStatus } from '@/lib/checks/types';
import { renderMetrics } from '@/lib/metrics';
import type { Caller } from '@/lib/roles';
import { getEnvironmentStatus } from '@/lib/status';
import { closeStoreForTests, getStore } from '@/lib/store';
import { getEnvironmentHistory, startWatcher, stopWatcher } from '@/lib/watcher';
import { storedPasswords } from '../rotation/support';
import { eventually, labApi, startTestLab, type TestLab } from '../support/lab';
import { createStoreDatabase } from '../support/store-database';
import { breakUsername, firstLook, restoreUsername, spawnWatcher, startWebhookReceiver, writeWatchConfig, type WatcherProcess, type WebhookReceiver } from './support';

// The watcher on the lab, telling a webhook receiver this test runs: a fault caused with the AWS
// CLI is announced once, naming its root cause, within two intervals, and its clearing once as a
// recovery; a failing webhook is tried again and its failures audited; two console processes on
// one PostgreSQL store, and a change of leader between them, still say each thing once. Then
// /api/metrics against the JSON status.

const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const INTERVAL_MS = 3000;
let lab: TestLab;
let ops: WebhookReceiver;
let flaky: WebhookReceiver;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kinds = (r: WebhookReceiver) => r.delivered().map((x) => `${x.body.environment} ${x.body.kind}${x.body.rootCause ? ` ${x.body.rootCause.check}` : ''}`);

beforeAll(async () => {
  lab = await startTestLab();
  [ops, flaky] = await Promise.all([startWebhookReceiver(), startWebhookReceiver('/slack')]);
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(lab.configPath, '..', 'console.sqlite');
  await closeStoreForTests();
});

afterAll(async () => {
  await stopWatcher();
  await Promise.all([ops?.close(), flaky?.close()]);
  delete process.env.AUDIT_DATABASE_URL;
  await closeStoreForTests();
});

describe('one console watching', () => {
  it('announces a fault once, naming its root cause, within two intervals; its clearing once; retries a failing webhook and audits every failure', async () => {
    writeWatchConfig(lab, 'watch-one', {
      // A status is kept 1 s, so each look (every 3 s) reads afresh.
      cacheTtlSeconds: 1,
      publicUrl: 'https://ops.example.com',
      watch: { intervalSeconds: INTERVAL_MS / 1000 },
      notifications: {
        webhooks: [
          { name: 'ops', url: ops.url },
          { name: 'flaky', url: flaky.url, format: 'slack' },
          { name: 'dead', url: `http://127.0.0.1:${await closedPort()}/hook?token=dead-hook-secret` },
        ],
        announceAfterChecks: 1,
        maxAttempts: 3,
        retryAfterSeconds: 0.3,
      },
    });
    flaky.failNext(2);
    startWatcher();
    await firstLook('production');

    await breakUsername(lab);
    const alert = await eventually(async () => ops.delivered().find((r) => r.body.kind === 'state-change'), 'the state-change notification within two intervals', 2 * INTERVAL_MS, 100);
    expect(alert.body).toMatchObject({
      environment: 'production',
      previousState: 'healthy',
      state: 'broken',
      rootCause: { check: 'rds.username-match' },
      fix: { commands: expect.arrayContaining([expect.stringContaining('aws ssm put-parameter')]) },
      consoleUrl: 'https://ops.example.com/environments/production',
    });

    await restoreUsername(lab);
    await eventually(async () => ops.delivered().find((r) => r.body.kind === 'recovery'), 'the recovery within two intervals', 2 * INTERVAL_MS, 100);
    await sleep(2 * INTERVAL_MS); // two more looks of a healthy lab: nothing more to say
    expect(kinds(ops)).toEqual(['production state-change rds.username-match', 'production recovery']);
    expect(ops.requests).toHaveLength(2);

    // The Slack webhook answered 500 twice: the state change was tried again until it got through.
    await eventually(async () => (flaky.delivered().length === 2 ? true : undefined), 'both notifications at the flaky webhook', 10_000);
    expect(flaky.requests.map((r) => r.status)).toEqual([500, 500, 200, 200]);
    expect((flaky.requests[0]!.body as unknown as { text: string }).text).toContain('production is broken at rds.username-match');

    const audit = await eventually(async () => {
      const entries = (await listAudit(viewer, { limit: 1000 })).filter((e) => e.action === 'notification.delivery');
      return entries.filter((e) => /gave up after 3 attempts/.test(e.detail ?? '')).length === 2 ? entries : undefined;
    }, 'the dead webhook given up twice', 15_000);
    const about = (name: string, outcome: string) => audit.filter((e) => e.detail?.includes(`webhook "${name}"`) && e.outcome === outcome);
    expect(about('ops', 'success')).toHaveLength(2);
    expect(about('flaky', 'failure').map((e) => e.detail!.replace(/^.*: /, ''))).toEqual(['attempt 2 of 3 failed (HTTP 500); trying again in 0.6 s', 'attempt 1 of 3 failed (HTTP 500); trying again in 0.3 s']);
    expect(about('flaky', 'success')).toHaveLength(2);
    expect(about('dead', 'failure')).toHaveLength(6);
    expect(about('dead', 'failure')[0]!.detail).toMatch(/attempt 3 of 3 failed \(could not send \(ECONNREFUSED\)\); gave up after 3 attempts$/);
    for (const text of [JSON.stringify(await listAudit(viewer, { limit: 1000 })), lab.logLines.join('\n')]) {
      expect(text).not.toContain('hook-secret');
    }

    const history = await getEnvironmentHistory(viewer, 'production');
    expect(history.incidents).toHaveLength(1);
    expect(history.incidents[0]).toMatchObject({ rootCauses: [{ check: 'rds.username-match' }], end: expect.any(String) });
    expect(history.windows[0]!.segments.map((s) => s.state)).toEqual(['no-data', 'healthy', 'broken', 'healthy']);
  });

  it('reads the status a viewer just computed without an AWS call of its own, and asks afresh only for one its last look saw', async () => {
    // A cache TTL far longer than the interval: without the rule, every look would reuse one status for a minute.
    writeWatchConfig(lab, 'watch-shared', { cacheTtlSeconds: 60, watch: { intervalSeconds: INTERVAL_MS / 1000 }, notifications: { webhooks: [{ name: 'ops', url: ops.url }] } });
    const store = await getStore();
    const lookedAt = async () => (await store.db.selectFrom('watch_state').select(['looked_at', 'checked_at']).where('environment', '=', 'production').executeTakeFirstOrThrow());
    const nextLook = async () => {
      const before = (await lookedAt()).looked_at;
      return eventually(async () => {
        const now = await lookedAt();
        return now.looked_at !== before ? now : undefined;
      }, 'the next look', 3 * INTERVAL_MS, 50);
    };
    const calls = async () => (await labApi<{ total: number }>(lab, 'GET', '/_lab/requests')).body.total;
    await nextLook();
    await labApi(lab, 'DELETE', '/_lab/requests');
    const page = await getEnvironmentStatus(viewer, 'production', { fresh: true }); // "Refresh now" on the page
    const onePage = await calls();
    expect(onePage).toBeGreaterThan(0);
    expect((await nextLook()).checked_at).toBe(page.checkedAt);
    expect(await calls()).toBe(onePage);
    // The look after that would see the same status again: it asks afresh.
    expect((await nextLook()).checked_at > page.checkedAt).toBe(true);
    expect(await calls()).toBeGreaterThan(onePage);
  });

  it('serves metrics that parse as Prometheus text and say what the JSON status says', async () => {
    await stopWatcher();
    const metrics = parseMetrics((await renderMetrics({ id: 'token:prometheus', role: 'viewer', via: 'token' })).body);
    for (const name of ['production', 'local']) {
      const status: EnvironmentStatus = await getEnvironmentStatus(viewer, name);
      expect(metrics.get(`linkbox_environment_state{environment="${name}",state="${status.overall}"}`), name).toBe(1);
      expect([...metrics].filter(([k, v]) => k.startsWith(`linkbox_environment_state{environment="${name}"`) && v === 1)).toHaveLength(1);
      for (const check of status.checks) expect(metrics.get(`linkbox_check_state{environment="${name}",check="${check.id}",state="${check.status}"}`), check.id).toBe(1);
      const lastSuccess = metrics.get(`linkbox_last_successful_check_timestamp_seconds{environment="${name}"}`)!;
      expect(Date.now() / 1000 - lastSuccess).toBeLessThan(60);
    }
    const production = await getEnvironmentStatus(viewer, 'production');
    const age = metrics.get('linkbox_password_age_seconds{environment="production"}')!;
    expect(Math.abs(age - (Date.now() - Date.parse(production.password!.lastModified!)) / 1000)).toBeLessThan(30);
    expect(metrics.get('linkbox_check_duration_seconds_count{environment="production",check="db.login"}')).toBeGreaterThan(0);
    expect(metrics.get('linkbox_webhook_deliveries_total{webhook="dead",outcome="gave-up"}')).toBe(2);

    // A throttled call is counted as such, each attempt of the SDK's retries apart.
    const fault = await labApi(lab, 'POST', '/_lab/faults', { kind: 'error', service: 'ssm', action: 'DescribeParameters', error: 'ThrottlingException', probability: 1 });
    expect(fault.status).toBe(201);
    try {
      await getEnvironmentStatus(viewer, 'production', { fresh: true });
    } finally {
      await labApi(lab, 'POST', '/_lab/reset');
    }
    const after = parseMetrics((await renderMetrics(viewer)).body);
    const calls = [...after.keys()].filter((k) => k.startsWith('linkbox_aws_calls_total{service="ssm"')).join('\n');
    expect(after.get('linkbox_aws_calls_total{service="ssm",action="DescribeParameters",outcome="throttled"}'), calls).toBe(3);
    expect(after.get('linkbox_aws_calls_total{service="rds",action="DescribeDBInstances",outcome="success"}')).toBeGreaterThan(0);
  });
});

describe('two console processes on one PostgreSQL store', () => {
  let replicas: WatcherProcess[] = [];
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.kill()));
  });

  it('announce each change once, also when the leader dies between the fault and its clearing', async () => {
    process.env.AUDIT_DATABASE_URL = await createStoreDatabase(lab, (await storedPasswords(lab)).current!.value, 'watcher_store');
    await closeStoreForTests();
    const configPath = writeWatchConfig(lab, 'watch-two', { cacheTtlSeconds: 1, notifications: { webhooks: [{ name: 'ops', url: ops.url }], announceAfterChecks: 1 } });
    ops.requests.length = 0;
    const env = { LINKBOX_CONFIG: configPath, AUDIT_DATABASE_URL: process.env.AUDIT_DATABASE_URL, WATCH_INTERVAL_SECONDS: String(INTERVAL_MS / 1000) };
    replicas = [spawnWatcher(env), spawnWatcher(env)];
    await eventually(async () => (replicas.some((r) => r.leading()) ? true : undefined), 'a leader', 30_000);
    await firstLook('production');
    expect(replicas.filter((r) => r.leading())).toHaveLength(1);

    await breakUsername(lab);
    const alert = await eventually(async () => ops.delivered().find((r) => r.body.kind === 'state-change'), 'the state change within two intervals', 2 * INTERVAL_MS, 100);
    // The leader dies after it recorded the delivery (dying in between makes the next leader send it again, same id).
    await eventually(async () => {
      const rows = await (await getStore()).db.selectFrom('notification_outbox').select('state').where('event_id', '=', alert.body.id).execute();
      return rows.length > 0 && rows.every((r) => r.state === 'delivered') ? true : undefined;
    }, 'the delivery recorded', 5000, 50);

    const leader = replicas.find((r) => r.leading())!;
    const other = replicas.find((r) => r !== leader)!;
    await leader.kill();
    await restoreUsername(lab);
    // The other replica takes the lease once it runs out (three intervals), then looks.
    await eventually(async () => ops.delivered().find((r) => r.body.kind === 'recovery'), 'the recovery from the new leader', 3 * INTERVAL_MS + 2 * INTERVAL_MS + 2000, 100);
    expect(other.leading()).toBe(true);
    await sleep(2 * INTERVAL_MS);
    expect(kinds(ops)).toEqual(['production state-change rds.username-match', 'production recovery']);
    expect(ops.requests).toHaveLength(2);
    expect(other.output.join('\n')).not.toContain('hook-secret');
  });
});

/** A port nothing listens on: a webhook there is refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** The Prometheus text exposition as a map from `name{labels}` to value; throws on a line that is neither a comment nor a sample. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})?) (-?[0-9.e+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text format: ${line}`);
    samples.set(m[1]!, Number(m[2]));
  }
  return samples;
}
