import type { CheckFix, CheckId, EnvironmentStatus, OverallStatus } from '@/lib/checks/types';
import { redact, shorten } from '@/lib/redact';
import { parseSignature, type Announcement } from './damping';

// What the webhooks are told, built field by field from what the console already shows: the
// environment, the old and new state, the root cause with its summary, the fix command and a link.
// Check summaries and fixes never hold a secret by design; they pass the redactor all the same.

export type NotificationKind = 'state-change' | 'recovery' | 'scheduled-rotation' | 'test';

export interface Notification {
  id: string;
  kind: NotificationKind;
  environment: string | null;
  at: string;
  previousState: OverallStatus | null;
  state: OverallStatus | null;
  rootCause: { check: CheckId; summary: string } | null;
  fix: { summary: string; commands: string[] } | null;
  /** One line in the operator's words. */
  message: string;
  /** The environment's page (or the console's), when the console's public URL is known. */
  consoleUrl: string | null;
}

const STATE_WORDS: Record<OverallStatus, string> = { healthy: 'healthy', degraded: 'degraded', broken: 'broken', unknown: 'not checkable (could not check)' };

function clean(text: string, max = 500): string {
  return shorten(redact(text), max);
}

function fixOf(fix: CheckFix | undefined): Notification['fix'] {
  return fix ? { summary: clean(fix.summary), commands: (fix.commands ?? []).map((c) => redact(c)) } : null;
}

export function environmentLink(publicUrl: string | null, environment: string | null): string | null {
  if (!publicUrl) return null;
  const base = publicUrl.replace(/\/+$/, '');
  return environment ? `${base}/environments/${encodeURIComponent(environment)}` : base;
}

/** The announcement of a state the watcher saw hold, from the status it saw. */
export function stateNotification(id: string, status: EnvironmentStatus, announcement: Announcement, publicUrl: string | null): Notification {
  const to = parseSignature(announcement.to);
  const from = announcement.from ? parseSignature(announcement.from) : null;
  const cause = to.rootCause ? status.checks.find((c) => c.id === to.rootCause) : undefined;
  const recovery = to.state === 'healthy';
  const where = status.environment;
  let message: string;
  if (recovery) message = `${where} has recovered: healthy again${from ? ` after being ${STATE_WORDS[from.state]}` : ''}.`;
  else if (cause) message = `${where} is broken at ${cause.id}: ${clean(cause.summary, 300)}`;
  else message = `${where} is ${STATE_WORDS[to.state]}${from ? ` (was ${STATE_WORDS[from.state]})` : ''}.`;
  return {
    id,
    kind: recovery ? 'recovery' : 'state-change',
    environment: where,
    at: status.checkedAt,
    previousState: from?.state ?? null,
    state: to.state,
    rootCause: cause ? { check: cause.id, summary: clean(cause.summary) } : null,
    fix: fixOf(cause?.fix),
    message,
    consoleUrl: environmentLink(publicUrl, where),
  };
}

export function plainNotification(
  id: string,
  kind: 'scheduled-rotation' | 'test',
  environment: string | null,
  message: string,
  publicUrl: string | null,
  at = new Date(),
): Notification {
  return {
    id,
    kind,
    environment,
    at: at.toISOString(),
    previousState: null,
    state: null,
    rootCause: null,
    fix: null,
    message: clean(message, 1000),
    consoleUrl: environmentLink(publicUrl, environment),
  };
}

/** The console's own JSON payload: the notification, field by field. */
export function jsonPayload(n: Notification): Record<string, unknown> {
  return {
    source: 'linkbox-ops-console',
    id: n.id,
    kind: n.kind,
    environment: n.environment,
    at: n.at,
    previousState: n.previousState,
    state: n.state,
    rootCause: n.rootCause ? { check: n.rootCause.check, summary: n.rootCause.summary } : null,
    fix: n.fix ? { summary: n.fix.summary, commands: [...n.fix.commands] } : null,
    message: n.message,
    consoleUrl: n.consoleUrl,
  };
}

const HEADLINE: Record<NotificationKind, { emoji: string; title: string }> = {
  'state-change': { emoji: ':rotating_light:', title: 'LinkBox state change' },
  recovery: { emoji: ':white_check_mark:', title: 'LinkBox recovered' },
  'scheduled-rotation': { emoji: ':key:', title: 'LinkBox scheduled rotation' },
  test: { emoji: ':wave:', title: 'LinkBox Ops Console test notification' },
};

/** Slack's Block Kit (also what Slack-compatible receivers such as Mattermost take); `text` is the fallback. */
export function slackPayload(n: Notification): Record<string, unknown> {
  const fields: Array<{ type: 'mrkdwn'; text: string }> = [];
  if (n.environment) fields.push({ type: 'mrkdwn', text: `*Environment*\n${n.environment}` });
  if (n.state) fields.push({ type: 'mrkdwn', text: `*State*\n${n.previousState ? `${n.previousState} → ` : ''}${n.state}` });
  if (n.rootCause) fields.push({ type: 'mrkdwn', text: `*Root cause*\n\`${n.rootCause.check}\`` });
  const blocks: Array<Record<string, unknown>> = [
    { type: 'header', text: { type: 'plain_text', text: HEADLINE[n.kind].title } },
    { type: 'section', text: { type: 'mrkdwn', text: escapeMrkdwn(n.message) } },
  ];
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  if (n.fix) {
    const commands = n.fix.commands.length > 0 ? `\n\`\`\`${n.fix.commands.join('\n').replaceAll('```', "'''")}\`\`\`` : '';
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `*Fix:* ${escapeMrkdwn(n.fix.summary)}${commands}`.slice(0, 3000) } });
  }
  if (n.consoleUrl) {
    blocks.push({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open in the console' }, url: n.consoleUrl }] });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${n.kind} · ${n.at} · id ${n.id}` }] });
  return { text: `${HEADLINE[n.kind].emoji} ${HEADLINE[n.kind].title}: ${escapeMrkdwn(n.message)}`, blocks };
}

/** Slack's three control characters, so a summary never turns into a link or a mention. */
function escapeMrkdwn(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
