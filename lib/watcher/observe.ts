import 'server-only';
import { randomUUID } from 'node:crypto';
import type { CheckStatus, EnvironmentStatus, OverallStatus } from '@/lib/checks/types';
import { redact, shorten } from '@/lib/redact';
import { getStore, type WatchStateTable } from '@/lib/store';
import { afterLook, signatureOf } from './damping';
import { stateNotification, type Notification } from './notification';
import { enqueue } from './outbox';
import type { WebhookTarget } from './targets';

// What one look of the watcher leaves behind, in one transaction: the environment's watch state
// (what was seen, flap damping, what was announced), a history row for each check and for the
// overall state that changed, and, when a state has held long enough, its notification in the
// outbox. The write is conditional on the version it read, so if two replicas ever look at once
// (a leader that lost its lease mid-look), only one of them records the look and announces it.

export interface LookSettings {
  intervalMs: number;
  announceAfter: number;
  publicUrl: string | null;
  targets: readonly WebhookTarget[];
}

export interface CheckSeen {
  status: CheckStatus;
  summary: string;
}

/** A look the watcher missed for this long means it was not running: the history says "no data" for it. */
export const GAP_AFTER_INTERVALS = 3;

class LostRace extends Error {}

export interface LookResult {
  /** False when another replica recorded a look of this environment meanwhile (nothing was written). */
  recorded: boolean;
  announced: Notification | null;
}

export async function recordLook(status: EnvironmentStatus, settings: LookSettings, now = new Date()): Promise<LookResult> {
  const store = await getStore();
  const previous = await store.db.selectFrom('watch_state').selectAll().where('environment', '=', status.environment).executeTakeFirst();

  // A stale status is an old one served because nothing could be checked now: the console cannot see.
  const overall: OverallStatus = status.stale ? 'unknown' : status.overall;
  const rootCause = status.stale ? null : status.rootCause;
  const previousChecks = previous ? (JSON.parse(previous.checks) as Record<string, CheckSeen>) : {};
  const checks: Record<string, CheckSeen> = status.stale
    ? previousChecks
    : Object.fromEntries(status.checks.map((c) => [c.id, { status: c.status, summary: shorten(redact(c.summary), 300) }]));
  const at = status.stale ? now.toISOString() : status.checkedAt;

  const history: Array<{ subject: string; state: string; root_cause: string | null; summary: string | null; at: string }> = [];
  const gap = previous !== undefined && now.getTime() - Date.parse(previous.looked_at) > GAP_AFTER_INTERVALS * settings.intervalMs;
  let after = '';
  if (gap) {
    after = new Date(Date.parse(previous.looked_at) + settings.intervalMs).toISOString();
    history.push({ subject: 'overall', state: 'no-data', root_cause: null, summary: 'the watcher was not running', at: after });
  }
  const rowAt = at > after ? at : after;
  if (!previous || gap || previous.overall !== overall || previous.root_cause !== rootCause) {
    history.push({ subject: 'overall', state: overall, root_cause: rootCause, summary: rootCause ? (checks[rootCause]?.summary ?? null) : null, at: rowAt });
  }
  for (const [id, seen] of Object.entries(checks)) {
    if (previousChecks[id]?.status !== seen.status) history.push({ subject: id, state: seen.status, root_cause: null, summary: seen.summary, at: rowAt });
  }

  const { next, announce } = afterLook(
    previous ? { observed: previous.observed, count: previous.observed_count, announced: previous.announced } : null,
    signatureOf(overall, rootCause),
    settings.announceAfter,
  );
  const notification = announce ? stateNotification(randomUUID(), status, announce, settings.publicUrl) : null;
  const look: Omit<WatchStateTable, 'environment' | 'version' | 'rotation_attempted_at' | 'rotation_id' | 'rotation_skipped'> = {
    overall,
    root_cause: rootCause,
    checks: JSON.stringify(checks),
    checked_at: status.checkedAt,
    looked_at: now.toISOString(),
    last_success_at: overall === 'unknown' ? (previous?.last_success_at ?? null) : status.checkedAt,
    password_changed_at: status.password?.lastModified ?? previous?.password_changed_at ?? null,
    observed: next.observed,
    observed_count: next.count,
    announced: next.announced,
    announced_at: notification ? now.toISOString() : (previous?.announced_at ?? null),
  };

  try {
    await store.db.transaction().execute(async (trx) => {
      if (previous) {
        const updated = await trx
          .updateTable('watch_state')
          .set({ ...look, version: previous.version + 1 })
          .where('environment', '=', status.environment)
          .where('version', '=', previous.version)
          .executeTakeFirst();
        if (Number(updated.numUpdatedRows) === 0) throw new LostRace();
      } else {
        const inserted = await trx
          .insertInto('watch_state')
          .values({ environment: status.environment, version: 1, ...look, rotation_attempted_at: null, rotation_id: null, rotation_skipped: null })
          .onConflict((oc) => oc.column('environment').doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) throw new LostRace();
      }
      if (history.length > 0) await trx.insertInto('watch_history').values(history.map((h) => ({ environment: status.environment, ...h }))).execute();
      if (notification) await enqueue(trx, notification, settings.targets, now);
    });
  } catch (err) {
    if (err instanceof LostRace) return { recorded: false, announced: null };
    throw err;
  }
  return { recorded: true, announced: notification };
}

/** What the watcher last recorded of an environment, for the scheduler and the rotate page. */
export async function watchStateOf(environment: string): Promise<WatchStateTable | null> {
  const store = await getStore();
  return (await store.db.selectFrom('watch_state').selectAll().where('environment', '=', environment).executeTakeFirst()) ?? null;
}
