import 'server-only';
import { GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { awsClients } from './clients';
import { describeAwsError } from './errors';

// The backend container as `docker inspect linkbox-backend` reports it on each instance, through
// SSM Run Command. Slow (seconds), so callers cache it longer than the rest of a status.

export const CONTAINER_NAME = 'linkbox-backend';
// Run Command runs as root, so no sudo.
export const INSPECT_COMMAND = `docker inspect ${CONTAINER_NAME}`;

export interface ContainerInspection {
  /** "running", "exited", "created", "restarting"...; "missing" when no such container exists. */
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
  restartCount: number | null;
  exitCode: number | null;
  image: string | null;
  /** Docker's own error text for the last start (never a secret in Docker's output). */
  error: string | null;
}

/** Per instance: what the container is, or why the console could not find out. */
export type ContainerReport = { ok: true; container: ContainerInspection } | { ok: false; reason: string };

const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Cancelling', 'Undeliverable', 'Terminated', 'DeliveryTimedOut', 'ExecutionTimedOut']);

export interface InspectOptions {
  abortSignal?: AbortSignal;
  /** How long to wait for the command to finish on every instance. */
  timeoutMs: number;
  pollIntervalMs?: number;
}

export async function inspectBackendContainers(env: AwsEnvironmentConfig, instanceIds: string[], opts: InspectOptions): Promise<Record<string, ContainerReport>> {
  if (instanceIds.length === 0) return {};
  const { ssm } = awsClients(env);
  const sendOpts = opts.abortSignal ? { abortSignal: opts.abortSignal } : undefined;
  const sent = await ssm.send(
    new SendCommandCommand({
      InstanceIds: instanceIds,
      DocumentName: 'AWS-RunShellScript',
      Comment: 'linkbox-ops-console: container state',
      Parameters: { commands: [INSPECT_COMMAND] },
      TimeoutSeconds: 30,
    }),
    sendOpts,
  );
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new Error('SendCommand returned no CommandId');

  const deadline = Date.now() + opts.timeoutMs;
  const pollMs = opts.pollIntervalMs ?? 250;
  const reports: Record<string, ContainerReport> = {};
  await Promise.all(
    instanceIds.map(async (id) => {
      for (;;) {
        let inv;
        try {
          inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: id }), sendOpts);
        } catch (err) {
          // The invocation appears a moment after SendCommand returns.
          if ((err as { name?: string }).name !== 'InvocationDoesNotExist') {
            reports[id] = { ok: false, reason: describeAwsError(err, { action: 'GetCommandInvocation' }).message };
            return;
          }
        }
        if (inv?.Status && TERMINAL.has(inv.Status)) {
          reports[id] = parseInvocation(inv.Status, inv.StandardOutputContent ?? '', inv.StandardErrorContent ?? '');
          return;
        }
        if (Date.now() + pollMs > deadline) {
          reports[id] = { ok: false, reason: `Run Command ${commandId} did not finish on ${id} within ${opts.timeoutMs} ms (status ${inv?.Status ?? 'not yet delivered'})` };
          return;
        }
        await sleep(pollMs, opts.abortSignal);
      }
    }),
  );
  return reports;
}

/** Reads `docker inspect` output; "No such object" is a verdict (no container), other failures are not. */
export function parseInvocation(status: string, stdout: string, stderr: string): ContainerReport {
  if (/no such (object|container)/i.test(stderr) || /no such (object|container)/i.test(stdout)) {
    return { ok: true, container: { status: 'missing', startedAt: null, finishedAt: null, restartCount: null, exitCode: null, image: null, error: null } };
  }
  if (status !== 'Success') {
    return { ok: false, reason: `docker inspect ended ${status}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ''}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    return { ok: false, reason: 'docker inspect printed something that is not JSON' };
  }
  const item = (Array.isArray(parsed) ? parsed[0] : parsed) as Record<string, unknown> | undefined;
  if (!item || typeof item !== 'object') return { ok: true, container: { status: 'missing', startedAt: null, finishedAt: null, restartCount: null, exitCode: null, image: null, error: null } };
  const state = (item.State ?? item) as Record<string, unknown>;
  const config = (item.Config ?? {}) as Record<string, unknown>;
  const statusText = stringOr(state.Status ?? state.status);
  if (!statusText) return { ok: false, reason: 'docker inspect output has no State.Status' };
  return {
    ok: true,
    container: {
      status: statusText,
      startedAt: dockerTime(state.StartedAt ?? state.startedAt),
      finishedAt: dockerTime(state.FinishedAt ?? state.finishedAt),
      restartCount: numberOr(item.RestartCount ?? item.restartCount),
      exitCode: numberOr(state.ExitCode ?? state.exitCode),
      image: stringOr(config.Image ?? item.image),
      error: stringOr(state.Error ?? state.error),
    },
  };
}

/** Docker writes "0001-01-01T00:00:00Z" for "never". */
function dockerTime(v: unknown): string | null {
  const s = stringOr(v);
  if (!s || s.startsWith('0001-')) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function stringOr(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function numberOr(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(signal.reason);
    }, { once: true });
  });
}
