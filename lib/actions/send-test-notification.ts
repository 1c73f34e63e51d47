'use server';

// Sends a test notification to every webhook now, so an admin sees at once whether each one works:
// an admin's action from the same chain as the others, audited with each webhook's outcome.

import { z } from 'zod';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { sendTestNotification, WebhookListError } from '@/lib/watcher';
import { actionChain, requireRole, withInput, withSession, type ActionState } from './safe-action';

const sendTest = actionChain<ActionState>({
  action: 'notification.test',
  what: 'sending a test notification',
  page: () => '/admin/notifications',
  refused: (error, signInUrl) => (signInUrl ? { error, signInUrl } : { error }),
})
  .use(withSession)
  .use(requireRole('admin'))
  .use(withInput(z.strictObject({})))
  .run(async ({ caller }) => {
    const audit = (outcome: 'success' | 'failure', detail: string) => recordAuditSafely({ ...auditActor(caller), action: 'notification.test', environment: null, outcome, detail });
    let sent;
    try {
      sent = await sendTestNotification(caller);
    } catch (err) {
      if (!(err instanceof WebhookListError)) throw err;
      await audit('failure', err.message);
      return { error: `${err.message}.` };
    }
    if (sent.results.length === 0) {
      const why = 'no webhook is configured: add one under notifications.webhooks in the console config, or to ALERT_WEBHOOK_URLS';
      await audit('failure', why);
      return { error: `Nothing was sent: ${why}.` };
    }
    const each = sent.results.map((r) => `${r.webhook} ${r.ok ? 'delivered' : 'failed'} (${r.detail})`).join(', ');
    const all = sent.delivered === sent.results.length;
    await audit(all ? 'success' : 'failure', `sent to ${sent.results.length} webhook(s): ${each}`);
    return all ? { ok: true, message: `Delivered to every webhook: ${each}.` } : { error: `Delivered to ${sent.delivered} of ${sent.results.length} webhooks: ${each}.` };
  });

export async function sendTestNotificationAction(previous: ActionState, form: FormData): Promise<ActionState> {
  return sendTest(previous, form);
}
