import 'server-only';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackendInstance } from '@/lib/aws/ec2';
import { describeAwsError } from '@/lib/aws/errors';
import { describeBackendInstances } from '@/lib/aws/ec2';
import { invalidateContainerStates } from '@/lib/aws/readers';
import { backendRestartLines, runShellCommand } from '@/lib/aws/run-command';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { healthUrl, probeHttp } from '@/lib/probes';
import { redact, shorten } from '@/lib/redact';
import { saveRedeploy } from './records';
import type { InstanceRestartView, RedeployState } from './types';

// The rolling restart, shared by an operator's redeploy and a rotation's last step: one backend at a
// time, each through the deploy's own stop and start scripts (start_application.sh reads SSM afresh,
// so a restarted container uses the current password), and each must answer /health 200 before the
// next one goes down. The first failure stops the rollout: the remaining instances keep serving.

export interface RolloutTimings {
  /** How long one instance's stop+start command may take before the rollout gives up on it. */
  commandTimeoutMs: number;
  /** How long a restarted instance has to answer /health 200. */
  healthTimeoutMs: number;
  pollIntervalMs: number;
}

export const DEFAULT_ROLLOUT_TIMINGS: RolloutTimings = { commandTimeoutMs: 300_000, healthTimeoutMs: 120_000, pollIntervalMs: 1000 };
let defaults: RolloutTimings = DEFAULT_ROLLOUT_TIMINGS;

/** Shortens the bounded waits in tests that make a backend stay down on purpose. */
export function setRolloutTimingsForTests(overrides: Partial<RolloutTimings> | null): void {
  defaults = overrides ? { ...DEFAULT_ROLLOUT_TIMINGS, ...overrides } : DEFAULT_ROLLOUT_TIMINGS;
}

export interface RolloutOptions {
  redeployId: string;
  imageTag?: string | null;
  /** Checked before each instance; a reason stops the rollout (e.g. the lock was lost). */
  shouldStop?: () => string | undefined;
}

export type RolloutResult = { ok: true; instances: InstanceRestartView[] } | { ok: false; error: string; instances: InstanceRestartView[] };

/**
 * Runs a rollout recorded as the redeploy row `redeployId` (which must exist), persisting each
 * instance's progress so any console replica can show it.
 */
export async function runRollout(env: AwsEnvironmentConfig, opts: RolloutOptions): Promise<RolloutResult> {
  const timings = defaults;
  const lines = backendRestartLines(env, opts.imageTag);
  let instances: InstanceRestartView[] = [];
  const save = (state: RedeployState, error: string | null = null) => saveRedeploy(opts.redeployId, state, { instances, error });
  const stop = async (error: string): Promise<RolloutResult> => {
    for (const i of instances) if (i.status === 'pending') i.status = 'skipped';
    await save('failed', error);
    return { ok: false, error, instances };
  };

  let found: BackendInstance[];
  try {
    found = (await describeBackendInstances(env)).filter((i) => i.state === 'running');
  } catch (err) {
    return stop(`could not list the backend instances: ${describeAwsError(err, { action: 'DescribeInstances' }).message}`);
  }
  if (found.length === 0) return stop("no running backend instance matches the environment's backendInstances selector");
  instances = found.map((i) => ({ instanceId: i.id, name: i.name, status: 'pending', phase: null, commandId: null, startedAt: null, finishedAt: null, detail: null }));
  await save('running');

  for (const [index, instance] of found.entries()) {
    const view = instances[index]!;
    const stopReason = opts.shouldStop?.();
    if (stopReason) return stop(stopReason);
    const label = instance.name ? `${instance.id} (${instance.name})` : instance.id;
    view.status = 'running';
    view.startedAt = new Date().toISOString();
    view.phase = 'running stop_application.sh and start_application.sh';
    await save('running');

    const restarted = await restartOne(env, instance, lines, timings, async (commandId) => {
      view.commandId = commandId;
      await save('running');
    });
    // Whatever the outcome, the container was touched: a cached started-at would now be wrong.
    invalidateContainerStates(env);
    if (!restarted.ok) {
      view.status = 'failed';
      view.finishedAt = new Date().toISOString();
      view.phase = null;
      view.detail = restarted.reason;
      return stop(`rollout stopped at ${label}: ${restarted.reason}`);
    }

    view.phase = 'waiting for /health 200';
    await save('running');
    const url = healthUrl(env.health, instance);
    const healthy = url ? await waitForHealth(url, timings) : { ok: false as const, reason: 'no health URL: the instance has no private IP and none is configured' };
    view.finishedAt = new Date().toISOString();
    view.phase = null;
    if (!healthy.ok) {
      view.status = 'failed';
      view.detail = `restarted, but ${healthy.reason}`;
      return stop(`rollout stopped at ${label}: it did not come back healthy (${healthy.reason})`);
    }
    view.status = 'done';
    view.detail = 'restarted; /health answered 200';
    await save('running');
  }
  await save('completed');
  return { ok: true, instances };
}

async function restartOne(
  env: AwsEnvironmentConfig,
  instance: BackendInstance,
  lines: string[],
  timings: RolloutTimings,
  onSent: (commandId: string) => Promise<void>,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let result;
  try {
    result = await runShellCommand(env, [instance.id], lines, { timeoutMs: timings.commandTimeoutMs, pollIntervalMs: timings.pollIntervalMs, comment: 'rolling restart', onSent });
  } catch (err) {
    return { ok: false, reason: describeAwsError(err, { action: 'SendCommand' }).message };
  }
  const outcome = result.outcomes[instance.id]!;
  if (!outcome.ok) return { ok: false, reason: outcome.reason };
  const { status, exitCode, stdout, stderr } = outcome.answer;
  if (status === 'Success') return { ok: true };
  const output = lastLine(stderr) ?? lastLine(stdout);
  return { ok: false, reason: `the restart command ${result.commandId} ended ${status}${exitCode !== null ? ` (exit ${exitCode})` : ''}${output ? `: ${output}` : ''}` };
}

async function waitForHealth(url: string, timings: RolloutTimings): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + timings.healthTimeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    const probe = await probeHttp(url, Math.min(5000, timings.healthTimeoutMs));
    if (probe.statusCode === 200) return { ok: true };
    last = probe.statusCode ? `/health answered ${probe.statusCode}` : `/health did not answer (${probe.outcome})`;
    await sleep(timings.pollIntervalMs);
  }
  return { ok: false, reason: `${last} for ${Math.round(timings.healthTimeoutMs / 1000)} s` };
}

/** The last non-empty line of a command's output, redacted before it is cut. */
function lastLine(text: string): string | null {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  return line ? shorten(redact(line), 300) : null;
}

/** Milliseconds each instance's restart took, and the total, for the audit entry. */
export function instanceTimings(instances: InstanceRestartView[], startedAt: number): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const i of instances) {
    if (!i.startedAt) continue;
    const end = i.finishedAt ? Date.parse(i.finishedAt) : Date.now();
    timings[i.instanceId] = Math.max(0, end - Date.parse(i.startedAt));
  }
  timings.total = Date.now() - startedAt;
  return timings;
}
