import 'server-only';
import { DescribeInstancesCommand, type Filter } from '@aws-sdk/client-ec2';
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { awsClients } from '@/lib/aws/clients';
import { invalidateCache } from '@/lib/aws/cache';
import { describeAwsError, redact } from '@/lib/aws/errors';
import { containerStateCachePrefix } from '@/lib/checks/context';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { getStore } from '@/lib/audit/store';
import { IMAGE_TAG_PATTERN, type InstanceRestartView, type RedeployState } from './types';

// The rolling restart: one backend at a time, each through the deploy's own stop and start scripts
// (start_application.sh reads SSM afresh, so a restarted container uses the current password), and
// each must answer /health 200 before the next one goes down. The first failure stops the rollout:
// the remaining instances keep serving.


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

export class InvalidImageTagError extends Error {
  constructor() {
    super('the image tag must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit');
    this.name = 'InvalidImageTagError';
  }
}

/**
 * The exact lines sent to an instance: the scripts' place and the repository come from the validated
 * config (`deploy`), and the tag is checked here again so no caller can slip text through.
 */
export function restartCommands(env: Pick<AwsEnvironmentConfig, 'deploy'>, imageTag?: string | null): string[] {
  const { scriptsDir, imageRepository } = env.deploy;
  const lines: string[] = [];
  if (imageTag !== undefined && imageTag !== null) {
    if (!IMAGE_TAG_PATTERN.test(imageTag)) throw new InvalidImageTagError();
    lines.push(`export IMAGE_URI=${imageRepository}:${imageTag}`);
  }
  lines.push(`${scriptsDir}/stop_application.sh`, `${scriptsDir}/start_application.sh`);
  return lines;
}

export interface BackendInstance {
  instanceId: string;
  name: string | null;
  privateIp: string | null;
}

/** The running instances the environment's selector names, in a stable order. */
export async function findBackendInstances(env: AwsEnvironmentConfig): Promise<BackendInstance[]> {
  const { ec2 } = awsClients(env);
  const selector = env.backendInstances;
  const filters: Filter[] = [{ Name: 'instance-state-name', Values: ['running'] }];
  let instanceIds: string[] | undefined;
  if ('ids' in selector) instanceIds = selector.ids;
  else for (const [key, value] of Object.entries(selector.tags)) filters.push({ Name: `tag:${key}`, Values: [value] });
  const found: BackendInstance[] = [];
  let nextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds, Filters: filters, NextToken: nextToken }));
    for (const reservation of out.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (!instance.InstanceId) continue;
        found.push({
          instanceId: instance.InstanceId,
          name: instance.Tags?.find((t) => t.Key === 'Name')?.Value ?? null,
          privateIp: instance.PrivateIpAddress ?? null,
        });
      }
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return found.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
}

export function healthUrl(env: AwsEnvironmentConfig, instance: BackendInstance): string | null {
  const configured = env.health.urls[instance.instanceId];
  if (configured) return configured;
  return instance.privateIp ? `http://${instance.privateIp}:${env.health.port}${env.health.path}` : null;
}

export interface RolloutOptions {
  redeployId: string;
  imageTag?: string | null;
  timings?: Partial<RolloutTimings>;
  /** Checked before each instance; a reason stops the rollout (e.g. the lock was lost). */
  shouldStop?: () => string | undefined;
}

export type RolloutResult = { ok: true; instances: InstanceRestartView[] } | { ok: false; error: string; instances: InstanceRestartView[] };

/**
 * Runs a rollout recorded as the redeploy row `redeployId` (which must exist), persisting each
 * instance's progress so any console replica can show it.
 */
export async function runRollout(env: AwsEnvironmentConfig, opts: RolloutOptions): Promise<RolloutResult> {
  const timings = { ...defaults, ...opts.timings };
  const commands = restartCommands(env, opts.imageTag);
  let instances: InstanceRestartView[] = [];

  const save = async (state: RedeployState, error: string | null = null) => {
    const store = await getStore();
    const now = new Date().toISOString();
    await store.db
      .updateTable('redeploys')
      .set({ state, error, instances: JSON.stringify(instances), updated_at: now, finished_at: state === 'running' ? null : now })
      .where('id', '=', opts.redeployId)
      .execute();
  };
  const stop = async (error: string): Promise<RolloutResult> => {
    for (const i of instances) if (i.status === 'pending') i.status = 'skipped';
    await save('failed', error);
    return { ok: false, error, instances };
  };

  let found: BackendInstance[];
  try {
    found = await findBackendInstances(env);
  } catch (err) {
    return stop(`could not list the backend instances: ${describeAwsError(err, { action: 'DescribeInstances' }).message}`);
  }
  if (found.length === 0) return stop('no running backend instance matches the environment\'s backendInstances selector');
  instances = found.map((i) => ({ instanceId: i.instanceId, name: i.name, status: 'pending', phase: null, commandId: null, startedAt: null, finishedAt: null, detail: null }));
  await save('running');

  for (const [index, instance] of found.entries()) {
    const view = instances[index]!;
    const stopReason = opts.shouldStop?.();
    if (stopReason) return stop(stopReason);
    const label = instance.name ? `${instance.instanceId} (${instance.name})` : instance.instanceId;
    view.status = 'running';
    view.startedAt = new Date().toISOString();
    view.phase = 'running stop_application.sh and start_application.sh';
    await save('running');

    const restarted = await restartOne(env, instance, commands, timings, async (commandId) => {
      view.commandId = commandId;
      await save('running');
    });
    // Whatever the outcome, the container was touched: a cached started-at would now be wrong.
    invalidateCache(containerStateCachePrefix(env.name));
    if (!restarted.ok) {
      view.status = 'failed';
      view.finishedAt = new Date().toISOString();
      view.phase = null;
      view.detail = restarted.reason;
      return stop(`rollout stopped at ${label}: ${restarted.reason}`);
    }

    view.phase = 'waiting for /health 200';
    await save('running');
    const url = healthUrl(env, instance);
    const healthy = url ? await waitForHealth(url, timings) : { ok: false as const, reason: 'no health URL: the instance has no private IP and none is configured' };
    view.finishedAt = new Date().toISOString();
    view.phase = null;
    if (!healthy.ok) {
      view.status = 'failed';
      view.detail = `restarted, but ${healthy.reason}`;
      return stop(`rollout stopped at ${label}: it did not come back healthy (${healthy.reason})`);
    }
    view.status = 'done';
    view.detail = `restarted; /health answered 200`;
    await save('running');
  }
  await save('completed');
  return { ok: true, instances };
}

async function restartOne(
  env: AwsEnvironmentConfig,
  instance: BackendInstance,
  commands: string[],
  timings: RolloutTimings,
  onSent: (commandId: string) => Promise<void>,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const { ssm } = awsClients(env);
  let commandId: string;
  try {
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        InstanceIds: [instance.instanceId],
        Parameters: { commands },
        Comment: 'LinkBox Ops Console: rolling restart',
        TimeoutSeconds: Math.ceil(timings.commandTimeoutMs / 1000),
      }),
    );
    if (!sent.Command?.CommandId) return { ok: false, reason: 'SendCommand returned no command id' };
    commandId = sent.Command.CommandId;
  } catch (err) {
    return { ok: false, reason: describeAwsError(err, { action: 'SendCommand' }).message };
  }
  await onSent(commandId);

  const deadline = Date.now() + timings.commandTimeoutMs;
  while (Date.now() < deadline) {
    await sleep(timings.pollIntervalMs);
    try {
      const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instance.instanceId }));
      const status = inv.Status ?? 'Pending';
      if (status === 'Success') return { ok: true };
      if (status === 'Pending' || status === 'InProgress' || status === 'Delayed') continue;
      const output = lastLine(inv.StandardErrorContent) ?? lastLine(inv.StandardOutputContent);
      return { ok: false, reason: `the restart command ${commandId} ended ${status}${inv.ResponseCode !== undefined ? ` (exit ${inv.ResponseCode})` : ''}${output ? `: ${output}` : ''}` };
    } catch (err) {
      // Right after SendCommand the invocation may not exist yet; anything else is a real failure.
      if ((err as { name?: string }).name === 'InvocationDoesNotExist') continue;
      const described = describeAwsError(err, { action: 'GetCommandInvocation' });
      if (described.kind === 'throttled' || described.kind === 'timeout' || described.kind === 'network') continue;
      return { ok: false, reason: described.message };
    }
  }
  return { ok: false, reason: `the restart command ${commandId} did not finish within ${Math.round(timings.commandTimeoutMs / 1000)} s` };
}

async function waitForHealth(url: string, timings: RolloutTimings): Promise<{ ok: true } | { ok: false; reason: string }> {
  const deadline = Date.now() + timings.healthTimeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(5000, timings.healthTimeoutMs)), cache: 'no-store' });
      await res.body?.cancel().catch(() => {});
      if (res.status === 200) return { ok: true };
      last = `/health answered ${res.status}`;
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      last = `/health did not answer (${cause ?? (err as Error).name})`;
    }
    await sleep(timings.pollIntervalMs);
  }
  return { ok: false, reason: `${last} for ${Math.round(timings.healthTimeoutMs / 1000)} s` };
}

/** The last non-empty line of a command's output, scrubbed of anything shaped like a URL password. */
function lastLine(text: string | undefined): string | null {
  const line = text
    ?.split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (!line) return null;
  const clean = redact(line);
  return clean.length > 300 ? `${clean.slice(0, 297)}...` : clean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
