import 'server-only';
import { randomUUID } from 'node:crypto';
import { auditActor } from '@/lib/audit';
import { getConfig } from '@/lib/config/load';
import { assertRole, type Caller } from '@/lib/roles';
import { currentLeader, type LeaderView } from './lease';
import { plainNotification } from './notification';
import { deliverOnce } from './outbox';
import { maskWebhookUrl, publicUrlOf, webhookTargets, WebhookListError } from './targets';

// The admin's view of where notifications go (each webhook masked), and the test notification:
// one attempt to every webhook now, each outcome audited and shown, so an admin sees at once that
// a new webhook works. Real notifications go through the outbox, with retries.

export interface WebhookView {
  name: string;
  format: 'json' | 'slack';
  source: 'config' | 'ALERT_WEBHOOK_URLS';
  /** Scheme and host only: the rest of a webhook URL is its token. */
  maskedUrl: string;
}

export interface NotificationSettingsView {
  webhooks: WebhookView[];
  /** Why ALERT_WEBHOOK_URLS could not be read (its entries are never repeated). */
  problem: string | null;
  announceAfterChecks: number;
  maxAttempts: number;
  publicUrl: string | null;
  leader: LeaderView | null;
}

export async function getNotificationSettings(caller: Caller | null): Promise<NotificationSettingsView> {
  assertRole(caller, 'admin');
  const config = getConfig();
  let webhooks: WebhookView[] = [];
  let problem: string | null = null;
  try {
    webhooks = webhookTargets(config).map((t) => ({ name: t.name, format: t.format, source: t.source, maskedUrl: maskWebhookUrl(t.url) }));
  } catch (err) {
    if (!(err instanceof WebhookListError)) throw err;
    problem = err.message;
  }
  return {
    webhooks,
    problem,
    announceAfterChecks: config.notifications.announceAfterChecks,
    maxAttempts: config.notifications.maxAttempts,
    publicUrl: publicUrlOf(config),
    leader: await currentLeader(),
  };
}

export interface TestNotificationResult {
  delivered: number;
  results: Array<{ webhook: string; ok: boolean; detail: string }>;
}

export async function sendTestNotification(caller: Caller | null): Promise<TestNotificationResult> {
  assertRole(caller, 'admin');
  const config = getConfig();
  const targets = webhookTargets(config);
  const notification = plainNotification(randomUUID(), 'test', null, `A test notification sent by ${caller.id} from the LinkBox Ops Console.`, publicUrlOf(config));
  const results = await Promise.all(
    targets.map(async (t) => {
      const outcome = await deliverOnce(t, notification, { number: 1, of: 1 }, auditActor(caller));
      return { webhook: t.name, ok: outcome.ok, detail: outcome.detail };
    }),
  );
  return { delivered: results.filter((r) => r.ok).length, results };
}
