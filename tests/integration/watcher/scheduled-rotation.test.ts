import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '@/lib/audit';
import { WEEKDAYS } from '@/lib/config/schema';
import { getRotation, rotationWorkSettled } from '@/lib/rotation';
import { getScheduledRotation, startWatcher, stopWatcher } from '@/lib/watcher';
import { eventually } from '../support/lab';
import { finished, logsIn, requestCount, resetCounters, startRotationLab, stopRotationLab, storedPasswords, viewer, waitForRotation, type RotationLab } from '../rotation/support';
import { breakUsername, firstLook, restoreUsername, startWebhookReceiver, writeWatchConfig, type WebhookReceiver } from './support';

// Scheduled rotation on the lab: the watcher starts the same safe rotation a person starts, as the
// system actor, when the password is old enough and the maintenance window is open — once per
// opening; never while the window is closed; and not while production is broken, saying why.

const INTERVAL_MS = 2000;
let world: RotationLab;
let receiver: WebhookReceiver;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The UTC weekday `days` from today, as the config names it. */
const weekday = (days: number) => WEEKDAYS[(new Date().getUTCDay() + 6 + days) % 7]!;
/** Every day, all day: open now. A policy of 0 days: every opening of the window is due. */
const openNow = { maxPasswordAgeDays: 0, window: { days: [...WEEKDAYS], start: '00:00', end: '00:00', timeZone: 'UTC' } };
/** Only the day after tomorrow: closed now. */
const closedNow = { maxPasswordAgeDays: 0, window: { days: [weekday(2)], start: '00:00', end: '00:00', timeZone: 'UTC' } };

function watchWith(name: string, rotationSchedule: typeof openNow): void {
  writeWatchConfig(
    world.lab,
    name,
    { cacheTtlSeconds: 1, watch: { intervalSeconds: INTERVAL_MS / 1000 }, notifications: { webhooks: [{ name: 'ops', url: receiver.url }], announceAfterChecks: 1 } },
    { production: { rotationSchedule } },
  );
}

const scheduledSkips = async () => (await listAudit(viewer, { environment: 'production', limit: 1000 })).filter((e) => e.action === 'rotation.scheduled');
const rotationNews = () => receiver.delivered().filter((r) => r.body.kind === 'scheduled-rotation').map((r) => r.body.message);

beforeAll(async () => {
  world = await startRotationLab();
  receiver = await startWebhookReceiver();
});

afterAll(async () => {
  await stopWatcher();
  await rotationWorkSettled('production');
  await receiver?.close();
  await stopRotationLab(world);
});

describe('a scheduled rotation', () => {
  it('is skipped while production is broken, with the reason in the audit log once', async () => {
    await resetCounters(world.lab);
    await breakUsername(world.lab);
    try {
      watchWith('schedule-broken', openNow);
      startWatcher();
      const [skip] = await eventually(async () => {
        const found = await scheduledSkips();
        return found.length > 0 ? found : undefined;
      }, 'the skip in the audit log', 20_000);
      expect(skip).toMatchObject({ actor: 'console:scheduler', role: 'system', outcome: 'refused' });
      expect(skip!.detail).toMatch(/^skipped the scheduled rotation: production is broken \(root cause rds\.username-match\): rds\.username-match fail: /);
      await sleep(3 * INTERVAL_MS);
      expect(await scheduledSkips()).toHaveLength(1);
      expect(await getRotation(viewer, 'production')).toBeNull();
      expect(await requestCount(world.lab, 'rds', 'ModifyDBInstance')).toBe(0);
      await eventually(async () => (rotationNews().some((m) => m.includes('was skipped: production is broken')) ? true : undefined), 'the skip announced', 10_000);
    } finally {
      await stopWatcher();
      await restoreUsername(world.lab);
    }
  });

  it('does not run while the window is closed, and the rotate page names the next opening', async () => {
    watchWith('schedule-closed', closedNow);
    const before = Date.now();
    startWatcher();
    await firstLook('production');
    await eventually(async () => ((await getScheduledRotation(viewer, 'production'))?.nextAt ? true : undefined), 'the watcher reading the password age');
    await sleep(3 * INTERVAL_MS);
    await stopWatcher();
    expect(await getRotation(viewer, 'production')).toBeNull();
    const view = await getScheduledRotation(viewer, 'production');
    const dayAfterTomorrow = new Date(before);
    dayAfterTomorrow.setUTCHours(0, 0, 0, 0);
    dayAfterTomorrow.setUTCDate(dayAfterTomorrow.getUTCDate() + 2);
    expect(view).toMatchObject({ nextAt: dayAfterTomorrow.toISOString(), lastAttemptAt: null, timeZone: 'UTC' });
    expect(view!.policy).toBe(`at every window, ${closedNow.window.days[0]![0]!.toUpperCase()}${closedNow.window.days[0]!.slice(1)} 00:00–00:00 (UTC)`);
  });

  it('runs once when the window is open, as the system actor, completes, and is audited and announced', async () => {
    await resetCounters(world.lab);
    const oldPassword = (await storedPasswords(world.lab)).current!;
    watchWith('schedule-open', openNow);
    startWatcher();
    const started = await eventually(async () => (await getRotation(viewer, 'production')) ?? undefined, 'the scheduled rotation to start', 20_000);
    expect(started).toMatchObject({ by: 'console:scheduler', role: 'system' });
    const done = await waitForRotation('production', finished);
    expect(done.state).toBe('completed');

    const now = await storedPasswords(world.lab);
    expect(now.current!.version).toBeGreaterThan(oldPassword.version);
    expect(await logsIn(world.lab, now.current!.value)).toBe(true);
    // More looks inside the same opening: nothing more starts.
    await eventually(async () => (rotationNews().some((m) => m.includes('completed')) ? true : undefined), 'the completion announced', 20_000);
    await sleep(3 * INTERVAL_MS);
    await stopWatcher();
    expect((await getRotation(viewer, 'production'))!.id).toBe(started.id);
    expect(await requestCount(world.lab, 'rds', 'ModifyDBInstance')).toBe(1);

    const audit = await listAudit(viewer, { environment: 'production', limit: 1000 });
    expect(audit.filter((e) => e.action === 'rotation.start' && e.outcome === 'success').map((e) => e.actor)).toEqual(['console:scheduler']);
    expect(audit.filter((e) => e.action === 'rotation' && e.outcome === 'success').map((e) => e.actor)).toEqual(['console:scheduler']);
    expect(rotationNews().filter((m) => m.includes(started.id))).toEqual([
      expect.stringMatching(/has started: the password is older than the policy allows/),
      expect.stringMatching(/completed: a new password is in SSM and RDS/),
    ]);
    const view = await getScheduledRotation(viewer, 'production');
    expect(view!.lastAttemptAt).not.toBeNull();
    expect(Date.parse(view!.nextAt!)).toBeGreaterThan(Date.now()); // the next opening: tomorrow
    expect(JSON.stringify(receiver.requests)).not.toContain(now.current!.value);
  });
});
