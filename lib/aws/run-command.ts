import 'server-only';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeInstanceInformationCommand, SendCommandCommand, waitForCommandExecuted } from '@aws-sdk/client-ssm';
import { IMAGE_TAG_PATTERN, type AwsEnvironmentConfig } from '@/lib/config/schema';
import { redact, shorten } from '@/lib/redact';
import { awsClients, sendOptions, type CallOptions } from './clients';
import { describeAwsError } from './errors';

// Everything the console runs on a backend instance, through SSM Run Command: one sender and
// waiter (`runShellCommand`), and every line it ever sends, built here from validated values only.
// SSM keeps a command's parameters and output for 30 days, readable without the KMS key, so no line
// here may print a secret (docs/SECURITY.md).

export const CONTAINER_NAME = 'linkbox-backend';

export interface ShellAnswer {
  /** Run Command's status: "Success", "Failed", "TimedOut", ... */
  status: string;
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Per instance: the command's answer, or why there is none. */
export type ShellOutcome = { ok: true; answer: ShellAnswer } | { ok: false; reason: string };

export interface ShellOptions extends CallOptions {
  /** How long to wait for the command on every instance. */
  timeoutMs: number;
  /** What the command is for, as Run Command's history shows it. */
  comment: string;
  /** Between two GetCommandInvocation calls; brisk by default, so a page waits about one poll. */
  pollIntervalMs?: number;
  /** Called once SendCommand answered, before the wait (a rollout records the command id). */
  onSent?: (commandId: string) => void | Promise<void>;
}

const BRISK_POLL_MS = 250;

/**
 * Sends `lines` as one AWS-RunShellScript to every instance, then waits for each invocation with the
 * SDK's own waiter. Throws when SendCommand itself fails; a failure on one instance is that
 * instance's outcome.
 */
export async function runShellCommand(
  env: AwsEnvironmentConfig,
  instanceIds: string[],
  lines: string[],
  opts: ShellOptions,
): Promise<{ commandId: string; outcomes: Record<string, ShellOutcome> }> {
  const { ssm } = awsClients(env);
  const sent = await ssm.send(
    new SendCommandCommand({
      InstanceIds: instanceIds,
      DocumentName: 'AWS-RunShellScript',
      Comment: `linkbox-ops-console: ${opts.comment}`.slice(0, 100),
      Parameters: { commands: lines },
      TimeoutSeconds: Math.max(30, Math.ceil(opts.timeoutMs / 1000)),
    }),
    sendOptions(opts),
  );
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new Error('SendCommand returned no CommandId');
  await opts.onSent?.(commandId);

  const pollMs = opts.pollIntervalMs ?? BRISK_POLL_MS;
  const pollSeconds = pollMs / 1000;
  // No agent has answered within a round trip of SendCommand: asking at once only costs a call.
  await sleep(pollMs, undefined, { signal: opts.signal }).catch(() => {});
  const entries = await Promise.all(
    instanceIds.map(async (instanceId): Promise<[string, ShellOutcome]> => {
      // The SDK's waiter that returns rather than throws: a "Failed" invocation is an answer here.
      const result = await waitForCommandExecuted(
        // The SDK's default of 5 s between polls would hold a page for seconds after the command ended.
        { client: ssm, minDelay: pollSeconds, maxDelay: pollSeconds, maxWaitTime: Math.max(opts.timeoutMs / 1000, pollSeconds * 2), abortSignal: opts.signal },
        { CommandId: commandId, InstanceId: instanceId },
      );
      return [instanceId, outcomeOf(commandId, instanceId, result, opts.timeoutMs)];
    }),
  );
  return { commandId, outcomes: Object.fromEntries(entries) };
}

function outcomeOf(
  commandId: string,
  instanceId: string,
  result: { state: string; reason?: unknown; observedResponses?: Record<string, number> },
  timeoutMs: number,
): ShellOutcome {
  const inv = result.reason as { Status?: string; ResponseCode?: number; StandardOutputContent?: string; StandardErrorContent?: string } | undefined;
  if ((result.state === 'SUCCESS' || result.state === 'FAILURE') && inv?.Status) {
    return {
      ok: true,
      answer: { status: inv.Status, exitCode: inv.ResponseCode ?? null, stdout: inv.StandardOutputContent ?? '', stderr: inv.StandardErrorContent ?? '' },
    };
  }
  if (result.state === 'ABORTED') return { ok: false, reason: `the wait for Run Command ${commandId} on ${instanceId} was cancelled` };
  // The waiter retries every error; the last one it saw is the reason (throttled, denied...).
  const seen = Object.keys(result.observedResponses ?? {}).pop();
  const last = result.reason instanceof Error ? describeAwsError(result.reason, { action: 'GetCommandInvocation' }).message : seen ? shorten(redact(seen), 200) : null;
  return { ok: false, reason: `Run Command ${commandId} did not finish on ${instanceId} within ${timeoutMs} ms${last ? ` (last answer: ${last})` : ''}` };
}

// ---- The lines ----

/** Marks where each part of a combined command's output starts, so one command can answer several questions. */
const SECTION = '@@linkbox-ops-console:';

/** The image tag is checked here again, so no caller can slip text onto a command line. */
export class InvalidImageTagError extends Error {
  constructor() {
    super('the image tag must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit');
    this.name = 'InvalidImageTagError';
  }
}

/**
 * The deploy's own stop and start scripts (start_application.sh reads SSM afresh, so the restarted
 * container uses the current password): where they are and which repository come from the validated
 * config. `docker restart` would keep the container's old DATABASE_URL.
 */
export function backendRestartLines(env: Pick<AwsEnvironmentConfig, 'deploy'>, imageTag?: string | null): string[] {
  const { scriptsDir, imageRepository } = env.deploy;
  const lines: string[] = [];
  if (imageTag !== undefined && imageTag !== null) {
    if (!IMAGE_TAG_PATTERN.test(imageTag)) throw new InvalidImageTagError();
    lines.push(`export IMAGE_URI=${imageRepository}:${imageTag}`);
  }
  lines.push(`${scriptsDir}/stop_application.sh`, `${scriptsDir}/start_application.sh`);
  return lines;
}

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

/** Only a plain host name or IPv4 address reaches a command line. */
export function isPlainHost(host: string): boolean {
  return HOST_NAME.test(host);
}

export interface TcpProbeRequest {
  host: string;
  port: number;
  /** nc's own timeout, well inside the caller's budget, so a dropped packet is answered "timed out". */
  waitSeconds: number;
}

/**
 * The state fields the checks read, as one JSON object. A bare `docker inspect` would print
 * Config.Env, and with it the DATABASE_URL start_application.sh passes with `-e`: the password, kept
 * in Run Command's history for 30 days. So the template names each field, and never `.Config` whole.
 */
export const CONTAINER_STATE_FORMAT =
  '{"status":{{json .State.Status}},"restarts":{{.RestartCount}},"startedAt":{{json .State.StartedAt}},"finishedAt":{{json .State.FinishedAt}},' +
  '"exitCode":{{.State.ExitCode}},"image":{{json .Config.Image}},"error":{{json .State.Error}}}';

function containerLines(): string[] {
  // Run Command runs as root, so no sudo. The format holds no single quote, so it stays one word.
  return [`echo '${SECTION}inspect'`, `docker inspect --format '${CONTAINER_STATE_FORMAT}' ${CONTAINER_NAME} 2>&1 || echo '${SECTION}failed'`];
}

function tcpProbeLines(probe: TcpProbeRequest): string[] {
  if (!isPlainHost(probe.host)) throw new Error('the database host is not a plain host name');
  const wait = Math.max(1, Math.floor(probe.waitSeconds));
  return [`echo '${SECTION}nc'`, `nc -zv -w ${wait} ${probe.host} ${Math.floor(probe.port)} 2>&1 && echo '${SECTION}ok' || echo '${SECTION}failed'`];
}

/** The exact `nc` line an operator can run by hand from an instance. */
export function tcpProbeCommand(probe: Omit<TcpProbeRequest, 'waitSeconds'>): string {
  return `nc -zv ${probe.host} ${probe.port}`;
}

// ---- What the backends report ----

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

export type TcpVerdict = 'open' | 'refused' | 'timed-out' | 'unresolved' | 'unknown';

/** `nc` from one instance: its verdict and what it printed, or why it could not run. */
export type TcpReport = { ok: true; verdict: TcpVerdict; output: string } | { ok: false; reason: string };

export interface BackendReport {
  container: ContainerReport;
  /** Present when the command also carried a TCP probe. */
  tcp?: TcpReport;
}

/**
 * Each instance's container state (`docker inspect`), and with `tcpProbe` also `nc` to the
 * database from the instance itself, in ONE Run Command: one SendCommand, one answer per instance.
 * `inspect: false` asks only the TCP question.
 */
export async function readBackendReports(
  env: AwsEnvironmentConfig,
  instanceIds: string[],
  opts: CallOptions & { timeoutMs: number; tcpProbe?: TcpProbeRequest; inspect?: boolean },
): Promise<Record<string, BackendReport>> {
  if (instanceIds.length === 0) return {};
  const inspect = opts.inspect ?? true;
  const lines = [...(inspect ? containerLines() : []), ...(opts.tcpProbe ? tcpProbeLines(opts.tcpProbe) : [])];
  const { outcomes } = await runShellCommand(env, instanceIds, lines, {
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    comment: [inspect && 'container state', opts.tcpProbe && 'TCP to the database'].filter(Boolean).join(' and '),
  });
  const reports: Record<string, BackendReport> = {};
  for (const id of instanceIds) {
    const outcome = outcomes[id]!;
    if (!outcome.ok) {
      reports[id] = { container: outcome, ...(opts.tcpProbe ? { tcp: outcome } : {}) };
      continue;
    }
    const sections = splitSections(outcome.answer);
    reports[id] = { container: inspect ? parseInspect(sections.get('inspect'), outcome.answer) : { ok: false, reason: 'not asked' } };
    if (opts.tcpProbe) reports[id].tcp = parseTcp(sections.get('nc'), outcome.answer);
  }
  return reports;
}

/** The SSM agent's PingStatus per instance ("Online", "ConnectionLost"...); absent when not registered. */
export async function describeAgentPings(env: AwsEnvironmentConfig, instanceIds: string[], opts: CallOptions = {}): Promise<Record<string, string>> {
  if (instanceIds.length === 0) return {};
  const out = await awsClients(env).ssm.send(
    new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: instanceIds }] }),
    sendOptions(opts),
  );
  return Object.fromEntries((out.InstanceInformationList ?? []).map((info) => [info.InstanceId ?? '', info.PingStatus ?? 'unknown']));
}

interface Section {
  text: string;
  failed: boolean;
}

function splitSections(answer: ShellAnswer): Map<string, Section> {
  const sections = new Map<string, Section>();
  let current: { name: string; lines: string[]; failed: boolean } | null = null;
  const close = () => {
    if (current) sections.set(current.name, { text: current.lines.join('\n'), failed: current.failed });
  };
  for (const line of answer.stdout.split('\n')) {
    if (line.startsWith(SECTION)) {
      const word = line.slice(SECTION.length).trim();
      if (word === 'failed' && current) current.failed = true;
      else if (word !== 'ok') {
        close();
        current = { name: word, lines: [], failed: false };
      }
      continue;
    }
    current?.lines.push(line);
  }
  close();
  return sections;
}

const MISSING: ContainerInspection = { status: 'missing', startedAt: null, finishedAt: null, restartCount: null, exitCode: null, image: null, error: null };

/** Reads the state object CONTAINER_STATE_FORMAT prints; "No such object" is a verdict (no container), other failures are not. */
export function parseInspect(section: Section | undefined, answer: ShellAnswer): ContainerReport {
  if (!section) return { ok: false, reason: `the container state command ended ${answer.status}${answer.stderr ? `: ${shorten(redact(answer.stderr), 200)}` : ''}` };
  if (/no such (object|container)/i.test(section.text)) return { ok: true, container: MISSING };
  if (section.failed) return { ok: false, reason: `docker inspect failed: ${shorten(redact(section.text), 200) || 'no output'}` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(section.text);
  } catch {
    return { ok: false, reason: 'docker inspect printed something that is not the state object it was asked for' };
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return { ok: false, reason: 'docker inspect printed something that is not the state object it was asked for' };
  const state = parsed as Record<string, unknown>;
  const status = stringOr(state.status);
  if (!status) return { ok: false, reason: 'docker inspect reported no container status' };
  return {
    ok: true,
    container: {
      status,
      startedAt: dockerTime(state.startedAt),
      finishedAt: dockerTime(state.finishedAt),
      restartCount: numberOr(state.restarts),
      exitCode: numberOr(state.exitCode),
      image: stringOr(state.image),
      error: stringOr(state.error),
    },
  };
}

function parseTcp(section: Section | undefined, answer: ShellAnswer): TcpReport {
  if (!section) return { ok: false, reason: `the TCP test ended ${answer.status} before it ran` };
  return { ok: true, verdict: tcpVerdictOf(section.text, !section.failed), output: shorten(redact(section.text), 300) };
}

/** Reads nc's own words (OpenBSD and traditional nc, ncat) rather than only its exit code. */
export function tcpVerdictOf(output: string, exitedZero: boolean): TcpVerdict {
  if (exitedZero) return 'open';
  if (/refused/i.test(output)) return 'refused';
  if (/timed out|timeout/i.test(output)) return 'timed-out';
  if (/not known|getaddrinfo|resolve|no address|Unknown host|forward host lookup failed/i.test(output)) return 'unresolved';
  return 'unknown';
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
