import type { Metadata } from 'next';
import { Breadcrumb } from '@/components/layout/breadcrumb';
import { TestNotificationForm } from '@/components/notifications/test-notification-form';
import { dateTime } from '@/components/rotation/time';
import { sendTestNotificationAction } from '@/lib/actions/send-test-notification';
import { pageSession } from '@/lib/pages';
import { getNotificationSettings } from '@/lib/watcher';

export const metadata: Metadata = { title: 'Notifications' };

export default async function NotificationsPage() {
  const { caller } = await pageSession('/admin/notifications', 'admin');
  const settings = await getNotificationSettings(caller);
  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <Breadcrumb trail={[{ label: 'Environments', href: '/' }, { label: 'Notifications' }]} />
      <h1 className="text-xl font-bold text-slate-900">Notifications</h1>
      <p className="mt-1 text-sm text-slate-700">
        The watcher tells these webhooks when an environment changes state (once the new state held for {settings.announceAfterChecks}{' '}
        {settings.announceAfterChecks === 1 ? 'check' : 'checks in a row'}) and when it recovers, and about scheduled rotations. A failing webhook
        is tried {settings.maxAttempts} times in all; every attempt is in the audit log. Webhook URLs carry tokens, so only their host is shown.
      </p>
      <p className="mt-1 text-sm text-slate-700">
        Watcher:{' '}
        {settings.leader?.live ? (
          <>
            run by <span className="font-mono">{settings.leader.owner}</span> since {dateTime(settings.leader.since)}
          </>
        ) : (
          'no console replica is running it right now'
        )}
        . Links in notifications: {settings.publicUrl ? <span className="font-mono">{settings.publicUrl}</span> : 'none (set publicUrl in the config, or NEXTAUTH_URL)'}.
      </p>
      {settings.problem && (
        <p role="alert" className="mt-2 rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
          {settings.problem}.
        </p>
      )}
      <table aria-label="Webhooks" className="mt-3 w-full max-w-3xl text-left text-sm">
        <thead className="text-xs uppercase tracking-wide text-slate-500">
          <tr>
            <th scope="col" className="py-1 pr-3">Name</th>
            <th scope="col" className="py-1 pr-3">Format</th>
            <th scope="col" className="py-1 pr-3">URL</th>
            <th scope="col" className="py-1">From</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {settings.webhooks.map((w) => (
            <tr key={w.name}>
              <td className="py-1 pr-3 font-mono">{w.name}</td>
              <td className="py-1 pr-3">{w.format === 'slack' ? 'Slack (Block Kit)' : 'JSON'}</td>
              <td className="py-1 pr-3 font-mono text-xs">{w.maskedUrl}</td>
              <td className="py-1 text-xs">{w.source === 'config' ? 'console config' : 'ALERT_WEBHOOK_URLS'}</td>
            </tr>
          ))}
          {settings.webhooks.length === 0 && (
            <tr>
              <td colSpan={4} className="py-1 text-slate-600">
                No webhook: add one under <code className="font-mono">notifications.webhooks</code> in the console config, or to ALERT_WEBHOOK_URLS.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <section aria-labelledby="test" className="mt-4">
        <h2 id="test" className="text-base font-semibold text-slate-900">
          Test notification
        </h2>
        <p className="mt-1 text-sm text-slate-700">Sends one message to every webhook now and shows how each answered.</p>
        <TestNotificationForm action={sendTestNotificationAction} disabled={settings.webhooks.length === 0} />
      </section>
    </main>
  );
}
