import { describe, expect, it } from 'vitest';
import type { EnvironmentStatus } from '@/lib/checks/types';
import { jsonPayload, plainNotification, slackPayload, stateNotification } from '@/lib/watcher/notification';
import { maskWebhookUrl, parseAlertWebhookUrls, WebhookListError } from '@/lib/watcher/targets';

// What a webhook receives, and how a webhook's URL (a secret) is read, named and shown.

const broken: EnvironmentStatus = {
  environment: 'production',
  kind: 'aws',
  overall: 'broken',
  rootCause: 'db.login',
  checkedAt: '2026-12-05T12:00:00.000Z',
  stale: false,
  password: null,
  checks: [
    {
      id: 'db.login',
      status: 'fail',
      // A driver message that quotes a connection string: the redactor takes its password out.
      summary: 'Login failed for postgresql://linkbox:Sup3r-Secret@db:5432/linkbox (28P01)',
      evidence: {},
      fix: { summary: 'Rotate the password to bring SSM and RDS together', commands: ['aws rds describe-db-instances --db-instance-identifier linkbox-db'] },
    },
  ],
};

describe('a state-change notification', () => {
  const n = stateNotification('n-1', broken, { from: 'healthy', to: 'broken:db.login' }, 'https://ops.example.com/');

  it('carries the environment, old and new state, the root cause, the fix and a link — and no secret', () => {
    expect(jsonPayload(n)).toEqual({
      source: 'linkbox-ops-console',
      id: 'n-1',
      kind: 'state-change',
      environment: 'production',
      at: '2026-12-05T12:00:00.000Z',
      previousState: 'healthy',
      state: 'broken',
      rootCause: { check: 'db.login', summary: 'Login failed for postgresql://linkbox:****@db:5432/linkbox (28P01)' },
      fix: { summary: 'Rotate the password to bring SSM and RDS together', commands: ['aws rds describe-db-instances --db-instance-identifier linkbox-db'] },
      message: expect.stringContaining('production is broken at db.login'),
      consoleUrl: 'https://ops.example.com/environments/production',
    });
    expect(JSON.stringify(slackPayload(n))).not.toContain('Sup3r-Secret');
  });

  it('becomes a Block Kit message with a fallback text, the fix as code and a button to the console', () => {
    const slack = slackPayload(n) as { text: string; blocks: Array<{ type: string; elements?: Array<{ url?: string }>; text?: { text: string }; fields?: Array<{ text: string }> }> };
    expect(slack.text).toContain('production is broken at db.login');
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'actions', 'context']);
    expect(slack.blocks[2]!.fields!.map((f) => f.text)).toEqual(['*Environment*\nproduction', '*State*\nhealthy → broken', '*Root cause*\n`db.login`']);
    expect(slack.blocks[3]!.text!.text).toContain('```aws rds describe-db-instances');
    expect(slack.blocks[4]!.elements![0]!.url).toBe('https://ops.example.com/environments/production');
  });

  it('is a recovery when the new state is healthy, and has no link when the public URL is unknown', () => {
    const recovered = stateNotification('n-2', { ...broken, overall: 'healthy', rootCause: null }, { from: 'broken:db.login', to: 'healthy' }, null);
    expect(recovered).toMatchObject({ kind: 'recovery', previousState: 'broken', state: 'healthy', rootCause: null, fix: null, consoleUrl: null });
    expect(recovered.message).toBe('production has recovered: healthy again after being broken.');
  });

  it('escapes what Slack would read as a link or a mention', () => {
    const n2 = plainNotification('n-3', 'test', null, 'a <!channel> & <https://evil.example|click>', null);
    expect(JSON.stringify(slackPayload(n2))).not.toContain('<!channel>');
  });
});

describe('ALERT_WEBHOOK_URLS', () => {
  it('reads comma-separated URLs, Slack by host or by a slack+ prefix, each named without its token', () => {
    const targets = parseAlertWebhookUrls(' https://hooks.slack.com/services/T0/B0/tok3n , slack+https://chat.example.com/hooks/abc,https://alerts.example.com/in?key=k3y ');
    expect(targets.map((t) => [t.format, t.url])).toEqual([
      ['slack', 'https://hooks.slack.com/services/T0/B0/tok3n'],
      ['slack', 'https://chat.example.com/hooks/abc'],
      ['json', 'https://alerts.example.com/in?key=k3y'],
    ]);
    for (const t of targets) {
      expect(t.name).toMatch(/^env-[0-9a-f]{8}$/);
      expect(t.name).not.toContain('tok3n');
    }
    expect(parseAlertWebhookUrls(undefined)).toEqual([]);
  });

  it('names a bad entry by its position and never repeats it', () => {
    expect(() => parseAlertWebhookUrls('https://ok.example.com/x,not a url s3cret')).toThrow(new WebhookListError('ALERT_WEBHOOK_URLS entry 2 is not a URL; write http(s) URLs separated by commas'));
    expect(() => parseAlertWebhookUrls('ftp://files.example.com/s3cret')).toThrow(/entry 1 is not an http\(s\) URL$/);
  });

  it('shows a webhook to a person as its scheme and host only', () => {
    expect(maskWebhookUrl('https://hooks.slack.com/services/T0/B0/tok3n')).toBe('https://hooks.slack.com/****');
    expect(maskWebhookUrl('https://user:pw@alerts.example.com:8443/in?key=k3y')).toBe('https://alerts.example.com:8443/****');
  });
});
