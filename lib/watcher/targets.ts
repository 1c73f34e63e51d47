import 'server-only';
import { createHash } from 'node:crypto';
import type { ConsoleConfig } from '@/lib/config/schema';

// Where notifications go: the config's webhooks, then ALERT_WEBHOOK_URLS (comma-separated). A
// webhook's URL carries its token, so it is a secret: it is read here when a message is sent and
// nowhere else; the console, the audit log, the outbox and the metrics know a webhook by its name,
// and a person sees it masked.

export interface WebhookTarget {
  /** The config's name, or "env-<8 hex of the URL's SHA-256>" for ALERT_WEBHOOK_URLS (stable if the list is reordered). */
  name: string;
  url: string;
  format: 'json' | 'slack';
  source: 'config' | 'ALERT_WEBHOOK_URLS';
}

/** What a person may see of a webhook: its scheme and host, the rest masked. */
export function maskWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/****`;
  } catch {
    return '****';
  }
}

export class WebhookListError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookListError';
  }
}

/**
 * ALERT_WEBHOOK_URLS: each entry an http(s) URL; Slack's hooks.slack.com gets Block Kit messages, and so
 * does any URL written "slack+https://..." (a Slack-compatible receiver). A bad entry is named by its
 * position, never repeated: it may hold a token.
 */
export function parseAlertWebhookUrls(value: string | undefined): WebhookTarget[] {
  if (!value?.trim()) return [];
  return value
    .split(',')
    .map((raw) => raw.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const slackPrefixed = entry.startsWith('slack+');
      const url = slackPrefixed ? entry.slice('slack+'.length) : entry;
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        throw new WebhookListError(`ALERT_WEBHOOK_URLS entry ${i + 1} is not a URL; write http(s) URLs separated by commas`);
      }
      if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
        throw new WebhookListError(`ALERT_WEBHOOK_URLS entry ${i + 1} is not an http(s) URL`);
      }
      const format = slackPrefixed || parsed.hostname === 'hooks.slack.com' ? 'slack' : 'json';
      return { name: `env-${createHash('sha256').update(url).digest('hex').slice(0, 8)}`, url, format, source: 'ALERT_WEBHOOK_URLS' } satisfies WebhookTarget;
    });
}

export function webhookTargets(config: ConsoleConfig, alertWebhookUrls = process.env.ALERT_WEBHOOK_URLS): WebhookTarget[] {
  const fromConfig: WebhookTarget[] = config.notifications.webhooks.map((w) => ({ name: w.name, url: w.url, format: w.format, source: 'config' }));
  const seen = new Set(fromConfig.map((t) => t.name));
  // The same URL listed twice in ALERT_WEBHOOK_URLS is one target.
  return [...fromConfig, ...parseAlertWebhookUrls(alertWebhookUrls).filter((t) => !seen.has(t.name) && seen.add(t.name))];
}

/** The public URL notifications link to: the config's, else NEXTAUTH_URL. */
export function publicUrlOf(config: ConsoleConfig): string | null {
  return config.publicUrl ?? (process.env.NEXTAUTH_URL?.trim() || null);
}
