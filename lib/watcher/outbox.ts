import 'server-only';
import { randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import { recordAuditSafely } from '@/lib/audit';
import type { ConsoleConfig } from '@/lib/config/schema';
import { countWebhookDelivery } from '@/lib/metrics';
import { processWide } from '@/lib/process-wide';
import { redact } from '@/lib/redact';
import { getStore, type StoreSchema } from '@/lib/store';
import { jsonPayload, slackPayload, type Notification } from './notification';
import { webhookTargets, type WebhookTarget } from './targets';

// The notifications' outbox: a row per notification and webhook, written in the same transaction
// that recorded the change, and sent by whichever replica leads the watcher. A failing webhook is
// tried again after retryAfterSeconds, then twice as long each time, up to maxAttempts; every
// attempt's outcome is audited. Because the rows live in the store, a new leader sends what the old
// one could not, and a claim (a conditional update) keeps two replicas from sending one row twice.
// Delivery is at least once: a replica that dies between a webhook's answer and recording it leaves
// the row to be sent again by the next leader, with the same id, which a receiver can deduplicate by.

/** The watcher's own name in the audit log. */
export const WATCHER_ACTOR = { actor: 'console:watcher', role: 'system' } as const;

/** How long one attempt may take; a claim outlives it, so a dead sender's row is sent again. */
export const DELIVERY_TIMEOUT_MS = 10_000;
const CLAIM_MS = DELIVERY_TIMEOUT_MS + 5_000;

type Db = Kysely<StoreSchema> | Transaction<StoreSchema>;

export async function enqueue(db: Db, notification: Notification, targets: readonly WebhookTarget[], now = new Date()): Promise<void> {
  if (targets.length === 0) return;
  const at = now.toISOString();
  await db
    .insertInto('notification_outbox')
    .values(
      targets.map((t) => ({
        id: randomUUID(),
        event_id: notification.id,
        environment: notification.environment,
        target: t.name,
        payload: JSON.stringify(notification),
        state: 'pending' as const,
        attempts: 0,
        next_attempt_at: at,
        last_error: null,
        created_at: at,
        updated_at: at,
      })),
    )
    .execute();
}

export type AttemptResult = { ok: true; detail: string } | { ok: false; detail: string };

/** One POST of a notification to a webhook; the outcome in words that never hold the URL. */
export async function postNotification(target: WebhookTarget, notification: Notification): Promise<AttemptResult> {
  const body = JSON.stringify(target.format === 'slack' ? slackPayload(notification) : jsonPayload(notification));
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'linkbox-ops-console' },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, detail: `HTTP ${res.status}` };
    return { ok: false, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: fetchFailure(err, target.url) };
  }
}

function fetchFailure(err: unknown, url: string): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`;
  // fetch says only "fetch failed"; its cause says why ("ECONNREFUSED", "bad port", a TLS error...),
  // through the redactor with the URL itself as a secret.
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return `could not send (${redact(why, [url]).slice(0, 200)})`;
}

function describe(n: Notification, target: string, format?: WebhookTarget['format']): string {
  const subject = n.kind === 'test' ? 'test notification' : `${n.kind} notification${n.environment ? ` for ${n.environment}` : ''}`;
  return `${subject} ${n.id} to webhook "${target}"${format ? ` (${format})` : ''}`;
}

/**
 * One attempt, audited and counted, as the test notification and the outbox both make it. `settle`
 * stores the outcome first thing after the answer: the shorter the time between a webhook's answer
 * and its record, the smaller the chance that a replica dying in it makes the next leader send the
 * same notification (same id) again.
 */
export async function deliverOnce(
  target: WebhookTarget,
  notification: Notification,
  attempt: { number: number; of: number; retryInMs?: number },
  who: { actor: string; role: string | null } = WATCHER_ACTOR,
  settle?: (result: AttemptResult) => Promise<unknown>,
): Promise<AttemptResult> {
  const result = await postNotification(target, notification);
  await settle?.(result);
  const what = describe(notification, target.name, target.format);
  if (result.ok) {
    countWebhookDelivery(target.name, 'delivered');
    await recordAuditSafely({ ...who, action: 'notification.delivery', environment: notification.environment, outcome: 'success', detail: `${what}: delivered (${result.detail}) on attempt ${attempt.number}` });
  } else {
    // A single try (the admin's test) is not retried, but nothing was lost either: only the outbox gives up.
    const gaveUp = attempt.of > 1 && (attempt.number >= attempt.of || attempt.retryInMs === undefined);
    countWebhookDelivery(target.name, gaveUp ? 'gave-up' : 'failed');
    const next = gaveUp ? `; gave up after ${attempt.number} attempts` : attempt.retryInMs !== undefined ? `; trying again in ${Math.round(attempt.retryInMs / 100) / 10} s` : '';
    await recordAuditSafely({ ...who, action: 'notification.delivery', environment: notification.environment, outcome: 'failure', detail: `${what}: attempt ${attempt.number} of ${attempt.of} failed (${result.detail})${next}` });
  }
  return result;
}

const sending = processWide('watcher.outbox.sending', (): { run?: Promise<void> } => ({}));

/** Sends every due row; one run at a time per process (a look that finds one running leaves it be). */
export function deliverDue(config: ConsoleConfig): Promise<void> {
  sending.run ??= sendDue(config).finally(() => {
    sending.run = undefined;
  });
  return sending.run;
}

async function sendDue(config: ConsoleConfig): Promise<void> {
  const store = await getStore();
  const targets = webhookTargets(config);
  const { maxAttempts, retryAfterSeconds } = config.notifications;
  const now = new Date().toISOString();
  const due = await store.db
    .selectFrom('notification_outbox')
    .selectAll()
    .where('state', '=', 'pending')
    .where('next_attempt_at', '<=', now)
    .orderBy('created_at')
    .limit(50)
    .execute();
  await Promise.all(
    due.map(async (row) => {
      const claimed = await store.db
        .updateTable('notification_outbox')
        .set({ attempts: row.attempts + 1, next_attempt_at: new Date(Date.now() + CLAIM_MS).toISOString(), updated_at: new Date().toISOString() })
        .where('id', '=', row.id)
        .where('state', '=', 'pending')
        .where('next_attempt_at', '=', row.next_attempt_at)
        .returning('attempts')
        .executeTakeFirst();
      if (!claimed) return; // another replica took it
      const notification = JSON.parse(row.payload) as Notification;
      const attempt = claimed.attempts;
      const settle = (state: 'pending' | 'delivered' | 'failed', error: string | null, nextAt = new Date()) =>
        store.db
          .updateTable('notification_outbox')
          .set({ state, last_error: error, next_attempt_at: nextAt.toISOString(), updated_at: new Date().toISOString() })
          .where('id', '=', row.id)
          .execute();
      const target = targets.find((t) => t.name === row.target);
      if (!target) {
        await settle('failed', 'the webhook is no longer configured');
        await recordAuditSafely({
          ...WATCHER_ACTOR,
          action: 'notification.delivery',
          environment: notification.environment,
          outcome: 'failure',
          detail: `${describe(notification, row.target)}: not sent, the webhook is no longer configured`,
        });
        return;
      }
      const retryInMs = retryAfterSeconds * 1000 * 2 ** (attempt - 1);
      await deliverOnce(target, notification, { number: attempt, of: maxAttempts, retryInMs: attempt < maxAttempts ? retryInMs : undefined }, WATCHER_ACTOR, (result) =>
        result.ok ? settle('delivered', null) : attempt >= maxAttempts ? settle('failed', result.detail) : settle('pending', result.detail, new Date(Date.now() + retryInMs)),
      );
    }),
  );
}

/** The earliest moment a pending row is due, so the watcher can come back for it before its next look. */
export async function nextDueAt(): Promise<Date | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('notification_outbox').select('next_attempt_at').where('state', '=', 'pending').orderBy('next_attempt_at').limit(1).executeTakeFirst();
  return row ? new Date(row.next_attempt_at) : null;
}
