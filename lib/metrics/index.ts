import 'server-only';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { onAwsCall } from '@/lib/aws/clients';
import type { CheckStatus, EnvironmentStatus, OverallStatus } from '@/lib/checks/types';
import { getConfig } from '@/lib/config/load';
import { processWide } from '@/lib/process-wide';
import { assertRole, type Caller } from '@/lib/roles';
import { getStore } from '@/lib/store';

// The console's Prometheus metrics (prom-client), served at /api/metrics. Two kinds:
// - what this process did: AWS call attempts (heard through lib/aws's hook, never by importing
//   prom-client there), check durations, webhook deliveries, whether it leads the watcher. Each
//   replica is scraped on its own, as Prometheus expects.
// - what the store knows, read at every scrape, so every replica answers alike and a scrape costs
//   no AWS call: each environment's and check's state as the watcher last saw it, the password's
//   age, the last successful check, rotation and redeploy outcomes, notifications waiting.
// Labels are environment names, check ids, states, AWS service/action names and webhook names:
// never a URL, a token or anything an operator typed.

const OVERALL_STATES: readonly OverallStatus[] = ['healthy', 'degraded', 'broken', 'unknown'];
const CHECK_STATES: readonly CheckStatus[] = ['pass', 'warn', 'fail', 'skip', 'error'];

interface ProcessMetrics {
  registry: Registry;
  checkDuration: Histogram<'environment' | 'check'>;
  webhookDeliveries: Counter<'webhook' | 'outcome'>;
  leader: Gauge;
}

const own = processWide('metrics', (): ProcessMetrics => {
  // No prom-client default (process) metrics: their names break promtool's lint, and a node exporter or the platform says the same.
  const registry = new Registry();
  const awsCalls = new Counter({
    name: 'linkbox_aws_calls_total',
    help: 'AWS API call attempts made by this console process, by service, action and outcome (success, throttled, denied, kms-denied, timeout, not-found, network, unknown); SDK retries count each.',
    labelNames: ['service', 'action', 'outcome'],
    registers: [registry],
  });
  onAwsCall((c) => awsCalls.inc({ service: c.service, action: c.action, outcome: c.outcome }));
  return {
    registry,
    checkDuration: new Histogram({
      name: 'linkbox_check_duration_seconds',
      help: 'How long each check took in the statuses the watcher of this process read.',
      labelNames: ['environment', 'check'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: 'linkbox_webhook_deliveries_total',
      help: 'Notification attempts by webhook name and outcome: delivered, failed (tried again later) or gave-up.',
      labelNames: ['webhook', 'outcome'],
      registers: [registry],
    }),
    leader: new Gauge({ name: 'linkbox_watcher_leader', help: '1 while this console process runs the watcher (holds its lease), else 0.', registers: [registry] }),
  };
});

/** Each check's duration, once per computed status (the watcher calls it when it reads a status it had not seen). */
export function observeCheckDurations(status: EnvironmentStatus): void {
  for (const check of status.checks) {
    if (check.durationMs !== undefined) own.checkDuration.observe({ environment: status.environment, check: check.id }, check.durationMs / 1000);
  }
}

export function countWebhookDelivery(webhook: string, outcome: 'delivered' | 'failed' | 'gave-up'): void {
  own.webhookDeliveries.inc({ webhook, outcome });
}

export function setWatcherLeader(leading: boolean): void {
  own.leader.set(leading ? 1 : 0);
}

/** The Prometheus text exposition for a viewer (a session or an OPS_API_TOKENS token). */
export async function renderMetrics(caller: Caller | null): Promise<{ contentType: string; body: string }> {
  assertRole(caller, 'viewer');
  const stored = await storedMetrics();
  const merged = Registry.merge([own.registry, stored]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

/** Built afresh at every scrape from the store: nothing of one scrape lingers into the next. */
async function storedMetrics(): Promise<Registry> {
  const registry = new Registry();
  const registers = [registry];
  const store = await getStore();
  const configured = new Set(getConfig().environments.map((e) => e.name));
  const [states, rotations, redeploys, pending] = await Promise.all([
    store.db.selectFrom('watch_state').select(['environment', 'overall', 'checks', 'looked_at', 'last_success_at', 'password_changed_at']).execute(),
    store.db
      .selectFrom('rotations')
      .select(['environment', 'state', 'role', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('state', 'in', ['completed', 'failed', 'rolled-back'])
      .groupBy(['environment', 'state', 'role'])
      .execute(),
    store.db
      .selectFrom('redeploys')
      .select(['environment', 'state', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('state', 'in', ['completed', 'failed'])
      .where('reason', '=', 'operator')
      .groupBy(['environment', 'state'])
      .execute(),
    store.db.selectFrom('notification_outbox').select((eb) => eb.fn.countAll<number | string>().as('n')).where('state', '=', 'pending').executeTakeFirst(),
  ]);

  const environmentState = new Gauge({ name: 'linkbox_environment_state', help: 'The overall state the watcher last saw: 1 for the current state, 0 for the others.', labelNames: ['environment', 'state'], registers });
  const checkState = new Gauge({ name: 'linkbox_check_state', help: 'Each check’s status the watcher last saw: 1 for the current status, 0 for the others.', labelNames: ['environment', 'check', 'state'], registers });
  const passwordAge = new Gauge({ name: 'linkbox_password_age_seconds', help: 'Seconds since db-password last changed in SSM, as the watcher last read it.', labelNames: ['environment'], registers });
  const lastSuccess = new Gauge({ name: 'linkbox_last_successful_check_timestamp_seconds', help: 'When the last status that could be checked was computed (Unix time).', labelNames: ['environment'], registers });
  const lastLook = new Gauge({ name: 'linkbox_last_check_timestamp_seconds', help: 'When the watcher last looked at the environment (Unix time).', labelNames: ['environment'], registers });
  const now = Date.now();
  for (const row of states) {
    if (!configured.has(row.environment)) continue;
    const environment = row.environment;
    for (const state of OVERALL_STATES) environmentState.set({ environment, state }, row.overall === state ? 1 : 0);
    const checks = JSON.parse(row.checks) as Record<string, { status: CheckStatus }>;
    for (const [check, { status }] of Object.entries(checks)) {
      for (const state of CHECK_STATES) checkState.set({ environment, check, state }, status === state ? 1 : 0);
    }
    if (row.password_changed_at) passwordAge.set({ environment }, Math.max(0, (now - Date.parse(row.password_changed_at)) / 1000));
    if (row.last_success_at) lastSuccess.set({ environment }, Date.parse(row.last_success_at) / 1000);
    lastLook.set({ environment }, Date.parse(row.looked_at) / 1000);
  }

  const rotationOutcomes = new Counter({
    name: 'linkbox_rotations_total',
    help: 'Finished password rotations by environment, trigger (operator or schedule) and outcome (completed, failed, rolled-back), from the store.',
    labelNames: ['environment', 'trigger', 'outcome'],
    registers,
  });
  // The scheduler acts with the role "system" (lib/operations/system.ts); people with theirs.
  for (const r of rotations) rotationOutcomes.inc({ environment: r.environment, trigger: r.role === 'system' ? 'schedule' : 'operator', outcome: r.state }, Number(r.n));
  const redeployOutcomes = new Counter({ name: 'linkbox_redeploys_total', help: 'Finished operator redeploys (rolling restarts) by environment and outcome, from the store.', labelNames: ['environment', 'outcome'], registers });
  for (const r of redeploys) redeployOutcomes.inc({ environment: r.environment, outcome: r.state }, Number(r.n));
  new Gauge({ name: 'linkbox_notifications_pending', help: 'Notifications waiting to be delivered (or tried again) to a webhook.', registers }).set(Number(pending?.n ?? 0));
  return registry;
}
