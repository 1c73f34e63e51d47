import 'server-only';
import type { CheckId, OverallStatus } from '@/lib/checks/types';
import { getConfig, getEnvironment } from '@/lib/config/load';
import { assertRole, type Caller } from '@/lib/roles';
import { getStore } from '@/lib/store';
import { GAP_AFTER_INTERVALS } from './observe';
import { watchIntervalMs } from './settings';

// An environment's history as the page and the JSON API show it, read from the rows the watcher
// wrote (observe.ts): a strip of the last 24 hours and the last 7 days by overall state, the
// incidents (a stretch of "broken", through any "could not check" or gap inside it, until a
// healthy or degraded look), and availability: the share of the time the state was known that it
// was healthy. Time the watcher did not run is "no-data", never counted as healthy.

export type TimelineState = OverallStatus | 'no-data';

export interface TimelineSegment {
  state: TimelineState;
  from: string;
  to: string;
}

export interface Availability {
  /** healthy ÷ (healthy + degraded + broken); null when no state was known in the window. */
  healthyShare: number | null;
  /** Milliseconds per state within the window. */
  byState: Record<TimelineState, number>;
}

export interface TimelineWindow {
  label: string;
  from: string;
  to: string;
  segments: TimelineSegment[];
  availability: Availability;
}

export interface Incident {
  start: string;
  /** Null while it lasts. */
  end: string | null;
  durationMs: number;
  /** Each root cause it had, in order (a fix can reveal the next problem). */
  rootCauses: Array<{ check: CheckId; summary: string | null }>;
}

export interface HistoryChange {
  at: string;
  /** "overall" or a check id. */
  subject: string;
  state: string;
  rootCause: string | null;
  summary: string | null;
}

export interface EnvironmentHistory {
  environment: string;
  generatedAt: string;
  /** When the watcher last looked at it; null if it never did. */
  lastLookAt: string | null;
  intervalSeconds: number;
  retentionDays: number;
  windows: TimelineWindow[];
  /** Newest first, within the retention. */
  incidents: Incident[];
  /** Every recorded change of the last 7 days (overall and per check), newest first. */
  changes: HistoryChange[];
}

export interface OverallRow {
  state: TimelineState;
  rootCause: string | null;
  summary: string | null;
  at: string;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
export const TIMELINE_WINDOWS = [
  { label: 'Last 24 hours', ms: DAY_MS },
  { label: 'Last 7 days', ms: 7 * DAY_MS },
] as const;
const STATES: readonly TimelineState[] = ['healthy', 'degraded', 'broken', 'unknown', 'no-data'];

export async function getEnvironmentHistory(caller: Caller | null, name: string, now = new Date()): Promise<EnvironmentHistory> {
  assertRole(caller, 'viewer');
  const env = getEnvironment(name);
  const config = getConfig();
  const intervalMs = watchIntervalMs(config);
  const retentionMs = config.watch.historyRetentionDays * DAY_MS;
  const store = await getStore();
  const since = new Date(now.getTime() - retentionMs).toISOString();
  const weekAgo = new Date(now.getTime() - 7 * DAY_MS).toISOString();
  const [before, overall, changes, state] = await Promise.all([
    // The state in effect when the retention begins: the last change before it.
    store.db.selectFrom('watch_history').selectAll().where('environment', '=', env.name).where('subject', '=', 'overall').where('at', '<', since).orderBy('at', 'desc').orderBy('id', 'desc').limit(1).execute(),
    store.db.selectFrom('watch_history').selectAll().where('environment', '=', env.name).where('subject', '=', 'overall').where('at', '>=', since).orderBy('at').orderBy('id').execute(),
    store.db.selectFrom('watch_history').selectAll().where('environment', '=', env.name).where('at', '>=', weekAgo).orderBy('at', 'desc').orderBy('id', 'desc').limit(1000).execute(),
    store.db.selectFrom('watch_state').select('looked_at').where('environment', '=', env.name).executeTakeFirst(),
  ]);
  const rows: OverallRow[] = [...before, ...overall].map((r) => ({ state: r.state as TimelineState, rootCause: r.root_cause, summary: r.summary, at: r.at }));
  const lastLookAt = state?.looked_at ?? null;
  return {
    environment: env.name,
    generatedAt: now.toISOString(),
    lastLookAt,
    intervalSeconds: intervalMs / 1000,
    retentionDays: config.watch.historyRetentionDays,
    ...summarizeHistory(rows, coverageEnd(lastLookAt, intervalMs, now), now),
    changes: changes.map((r) => ({ at: r.at, subject: r.subject, state: r.state, rootCause: r.root_cause, summary: r.summary })),
  };
}

/** Until when the history covers: now while the watcher keeps looking, else an interval past its last look. */
export function coverageEnd(lastLookAt: string | null, intervalMs: number, now: Date): Date | null {
  if (!lastLookAt) return null;
  const last = Date.parse(lastLookAt);
  return now.getTime() - last <= GAP_AFTER_INTERVALS * intervalMs ? now : new Date(last + intervalMs);
}

/** The windows and incidents from the overall rows (oldest first). Pure, for the page and the tests. */
export function summarizeHistory(rows: readonly OverallRow[], coveredUntil: Date | null, now: Date): Pick<EnvironmentHistory, 'windows' | 'incidents'> {
  const end = coveredUntil ? Math.min(coveredUntil.getTime(), now.getTime()) : -Infinity;
  const windows = TIMELINE_WINDOWS.map(({ label, ms }) => {
    const from = now.getTime() - ms;
    const segments = segmentsBetween(rows, from, now.getTime(), end);
    const byState = Object.fromEntries(STATES.map((s) => [s, 0])) as Record<TimelineState, number>;
    for (const s of segments) byState[s.state] += Date.parse(s.to) - Date.parse(s.from);
    const known = byState.healthy + byState.degraded + byState.broken;
    return { label, from: new Date(from).toISOString(), to: now.toISOString(), segments, availability: { healthyShare: known > 0 ? byState.healthy / known : null, byState } };
  });
  return { windows, incidents: incidentsOf(rows, now).reverse() };
}

function segmentsBetween(rows: readonly OverallRow[], from: number, to: number, coveredUntil: number): TimelineSegment[] {
  const out: Array<{ state: TimelineState; from: number; to: number }> = [];
  const push = (state: TimelineState, a: number, b: number) => {
    const start = Math.max(a, from);
    const stop = Math.min(b, to);
    if (stop <= start) return;
    const last = out[out.length - 1];
    if (last && last.state === state && last.to === start) last.to = stop;
    else out.push({ state, from: start, to: stop });
  };
  if (rows.length === 0) push('no-data', from, to);
  else {
    const first = Date.parse(rows[0]!.at);
    push('no-data', from, first);
    rows.forEach((row, i) => push(row.state, Date.parse(row.at), Math.min(rows[i + 1] ? Date.parse(rows[i + 1]!.at) : Infinity, coveredUntil)));
    push('no-data', Math.max(coveredUntil, first), to);
  }
  return out.map((s) => ({ state: s.state, from: new Date(s.from).toISOString(), to: new Date(s.to).toISOString() }));
}

function incidentsOf(rows: readonly OverallRow[], now: Date): Incident[] {
  const incidents: Incident[] = [];
  let open: Incident | undefined;
  for (const row of rows) {
    if (row.state === 'broken') {
      if (!open) {
        open = { start: row.at, end: null, durationMs: 0, rootCauses: [] };
        incidents.push(open);
      }
      const cause = row.rootCause as CheckId | null;
      if (cause && open.rootCauses[open.rootCauses.length - 1]?.check !== cause) open.rootCauses.push({ check: cause, summary: row.summary });
    } else if (open && (row.state === 'healthy' || row.state === 'degraded')) {
      open.end = row.at;
      open = undefined;
    }
  }
  for (const i of incidents) i.durationMs = (i.end ? Date.parse(i.end) : now.getTime()) - Date.parse(i.start);
  return incidents;
}

/**
 * Drops what is older than the retention, but keeps each subject's newest row: it says what state
 * has held since, however long ago it began. Delivered and failed notifications go with it.
 */
export async function pruneHistory(retentionDays: number, now = new Date()): Promise<void> {
  const store = await getStore();
  const cutoff = new Date(now.getTime() - retentionDays * DAY_MS).toISOString();
  await store.db
    .deleteFrom('watch_history')
    .where('at', '<', cutoff)
    .where('id', 'not in', (eb) => eb.selectFrom('watch_history as newest').select((e) => e.fn.max('newest.id').as('id')).groupBy(['newest.environment', 'newest.subject']))
    .execute();
  await store.db.deleteFrom('notification_outbox').where('state', '!=', 'pending').where('updated_at', '<', cutoff).execute();
}
