import 'server-only';
import type { Caller } from '@/lib/roles';
import { getConfig } from '@/lib/config/load';
import type { ConsoleConfig, EnvironmentConfig } from '@/lib/config/schema';
import { observeCheckDurations, setWatcherLeader } from '@/lib/metrics';
import { processWide } from '@/lib/process-wide';
import { redact } from '@/lib/redact';
import { getEnvironmentStatus } from '@/lib/status';
import { pruneHistory } from './history';
import { holdLease, releaseLease } from './lease';
import { recordLook, type LookSettings } from './observe';
import { deliverDue, nextDueAt } from './outbox';
import { runSchedule } from './scheduled-rotation';
import { watchIntervalMs } from './settings';
import { publicUrlOf, webhookTargets } from './targets';

// The watcher: every interval, the replica that holds the lease (lease.ts) looks at every
// environment through the status engine, exactly as a page does (getEnvironmentStatus: cached,
// single-flight), so a viewer's page and the watcher never double the AWS calls; only a status its
// previous look already saw is asked for afresh. Each look is recorded (observe.ts), announcements
// and their retries leave through the outbox (outbox.ts), and scheduled rotations start here
// (scheduled-rotation.ts). Started by instrumentation.ts in the Node.js server, never by a build.

/** The watcher reads as automation does: a viewer. */
const WATCHER_CALLER: Caller = { id: 'console:watcher', role: 'viewer', via: 'token' };

/** The lease outlives this many missed looks before another replica takes over. */
const LEASE_INTERVALS = 3;
const MIN_LEASE_MS = 3000;
const PRUNE_EVERY_MS = 3_600_000;

interface Running {
  stopped: boolean;
  leading: boolean;
  timer?: NodeJS.Timeout;
  deliveryTimer?: NodeJS.Timeout;
  look?: Promise<void>;
  prunedAt: number;
  /** Per environment, when the last look at it began. */
  lookedAt: Map<string, number>;
  /** Per environment, the checkedAt of the last status whose durations were counted. */
  counted: Map<string, string>;
}

const watcher = processWide('watcher', (): { current?: Running } => ({}));

/**
 * Starts this process's watcher (once; a second call does nothing). Throws on a bad
 * WATCH_INTERVAL_SECONDS or ALERT_WEBHOOK_URLS, so the console refuses to start with them.
 */
export function startWatcher(): void {
  // Next never runs instrumentation during `next build`; a build must not watch even if it did.
  if (process.env.NEXT_PHASE === 'phase-production-build' || watcher.current) return;
  const config = getConfig();
  const intervalMs = watchIntervalMs(config);
  webhookTargets(config);
  if (intervalMs === 0) {
    console.log('watcher: off (WATCH_INTERVAL_SECONDS=0)');
    return;
  }
  const w: Running = { stopped: false, leading: false, prunedAt: 0, lookedAt: new Map(), counted: new Map() };
  watcher.current = w;
  next(w, 0);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stopWatcher().finally(() => endAsTheSignalWould(signal)));
}

/** A listener takes a signal's default action away: when ours was the only one, the process still ends. */
function endAsTheSignalWould(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Stops looking, waits for the look under way, and gives the lease up so another replica takes over at once. */
export async function stopWatcher(): Promise<void> {
  const w = watcher.current;
  if (!w) return;
  watcher.current = undefined;
  w.stopped = true;
  clearTimeout(w.timer);
  clearTimeout(w.deliveryTimer);
  await w.look?.catch(() => {});
  if (w.leading) {
    setWatcherLeader(false);
    await releaseLease().catch(() => {});
  }
}

/** Whether this process's watcher holds the lease (tests, the admin page). */
export function watcherIsLeading(): boolean {
  return watcher.current?.leading ?? false;
}

function next(w: Running, delayMs: number): void {
  w.timer = setTimeout(() => {
    const started = Date.now();
    w.look = lookAtEverything(w)
      .catch((err: unknown) => console.error(`watcher: a look failed: ${describe(err)}`))
      .finally(() => {
        if (w.stopped) return;
        let interval = 60_000;
        try {
          interval = watchIntervalMs(getConfig()) || interval;
        } catch (err) {
          console.error(`watcher: ${describe(err)}`);
        }
        next(w, Math.max(0, interval - (Date.now() - started)));
      });
  }, delayMs);
  w.timer.unref();
}

async function lookAtEverything(w: Running): Promise<void> {
  const config = getConfig();
  const intervalMs = watchIntervalMs(config);
  const leading = await holdLease(Math.max(LEASE_INTERVALS * intervalMs, MIN_LEASE_MS));
  if (w.stopped) return;
  if (leading !== w.leading) {
    w.leading = leading;
    setWatcherLeader(leading);
    console.log(leading ? 'watcher: this console now checks every environment' : 'watcher: another console checks the environments now');
  }
  if (!leading) return;
  const settings: LookSettings = {
    intervalMs,
    announceAfter: config.notifications.announceAfterChecks,
    publicUrl: publicUrlOf(config),
    targets: webhookTargets(config),
  };
  await Promise.all(config.environments.map((env) => lookAt(w, env, settings).catch((err: unknown) => console.error(`watcher: ${env.name}: ${describe(err)}`))));
  sendNotifications(w, config);
  if (Date.now() - w.prunedAt > PRUNE_EVERY_MS) {
    w.prunedAt = Date.now();
    await pruneHistory(config.watch.historyRetentionDays).catch((err: unknown) => console.error(`watcher: pruning the history failed: ${describe(err)}`));
  }
}

async function lookAt(w: Running, env: EnvironmentConfig, settings: LookSettings): Promise<void> {
  const previousLook = w.lookedAt.get(env.name);
  w.lookedAt.set(env.name, Date.now());
  let status = await getEnvironmentStatus(WATCHER_CALLER, env.name);
  // A status computed since the last look (by a viewer's page, or afresh because the cached one
  // expired) is as good as ours; only one the last look already saw (a TTL longer than the
  // interval) is asked for again.
  if (!status.stale && previousLook !== undefined && Date.parse(status.checkedAt) < previousLook) {
    status = await getEnvironmentStatus(WATCHER_CALLER, env.name, { fresh: true });
  }
  if (w.counted.get(env.name) !== status.checkedAt && !status.stale) {
    w.counted.set(env.name, status.checkedAt);
    observeCheckDurations(status);
  }
  const look = await recordLook(status, settings);
  if (look.recorded && env.kind === 'aws') await runSchedule(env, status, settings);
}

/** Delivers what is due now, then comes back when the next retry is due (not only at the next look). */
function sendNotifications(w: Running, config: ConsoleConfig): void {
  void deliverDue(config)
    .then(() => nextDueAt())
    .then((due) => {
      if (!due || w.stopped || !w.leading) return;
      clearTimeout(w.deliveryTimer);
      w.deliveryTimer = setTimeout(() => sendNotifications(w, getConfig()), Math.max(0, due.getTime() - Date.now()) + 10);
      w.deliveryTimer.unref();
    })
    .catch((err: unknown) => console.error(`watcher: sending notifications failed: ${describe(err)}`));
}

/** An error for the log: its class and its message through the redactor (a driver's message can quote a connection string). */
function describe(err: unknown): string {
  const e = err as Error;
  return `${e?.name ?? 'Error'}: ${redact(String(e?.message ?? err)).slice(0, 300)}`;
}
