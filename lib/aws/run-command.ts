import 'server-only';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  type CommandInvocation,
} from '@aws-sdk/client-ssm';
import { IMAGE_TAG_PATTERN, type AwsEnvironmentConfig } from '@/lib/config/schema';
import { redact, shorten } from '@/lib/redact';
import { batched, type BatchedApi } from './batch';
import { awsClients, sendOptions, type AwsClients, type CallOptions } from './clients';
import { describeAwsError } from './errors';

// Everything the console runs on a backend instance, through SSM Run Command: one sender and
// reader of the answers (`runShellCommand`), and every line it ever sends, built here from validated values only.
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
  /** Between two reads of the answers; brisk by default, so a page waits about one poll. */
  pollIntervalMs?: number;
  /** Called once SendCommand answered, before the wait (a rollout records the command id). */
  onSent?: (commandId: string) => void | Promise<void>;
}

const BRISK_POLL_MS = 250;
/** SendCommand reaches at most this many instances by id in one call. */
const SEND_COMMAND_MAX_INSTANCES = 50;

/**
 * Sends `lines` as one AWS-RunShellScript to every instance, then reads every instance's answer at
 * once (commandAnswers). Throws when SendCommand itself fails; a failure on one instance is that
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
  return { commandId, outcomes: await commandAnswers(env, commandId, instanceIds, opts) };
}

/** Run Command's statuses that are not yet an answer. */
const UNFINISHED = new Set(['Pending', 'InProgress', 'Delayed', 'Cancelling']);
/** ListCommandInvocations gives a plugin's output joined and cut at this length (the agent's MaximumPluginOutputSize). */
const LISTED_OUTPUT_MAX = 2500;
/** How the agent joins stdout and stderr in a plugin's Output, and marks a cut. */
const ERROR_TITLE = '\n----------ERROR-------\n';
const CUT_MARKERS = ['---Output truncated---', '---Error truncated----'];

/**
 * Every instance's answer to a command, read for all of them in one call per poll
 * (ListCommandInvocations with details), the first poll at once: no agent pause is guessed. An
 * answer the listing may have cut is read whole with GetCommandInvocation, for that instance only.
 */
async function commandAnswers(env: AwsEnvironmentConfig, commandId: string, instanceIds: string[], opts: ShellOptions): Promise<Record<string, ShellOutcome>> {
  const { ssm } = awsClients(env);
  const deadline = Date.now() + opts.timeoutMs;
  const outcomes: Record<string, ShellOutcome> = {};
  let lastError: unknown;
  for (;;) {
    const waiting = new Set(instanceIds.filter((id) => !(id in outcomes)));
    try {
      for (const inv of await listInvocations(ssm, commandId, opts)) {
        const id = inv.InstanceId ?? '';
        if (!waiting.has(id) || !inv.Status || UNFINISHED.has(inv.Status)) continue;
        const plugin = inv.CommandPlugins?.[0];
        const output = plugin?.Output ?? '';
        outcomes[id] = mayBeCut(output)
          ? await wholeAnswer(ssm, commandId, id, opts)
          : { ok: true, answer: { status: inv.Status, exitCode: plugin?.ResponseCode ?? null, ...splitOutput(output) } };
      }
    } catch (err) {
      lastError = err;
    }
    if (instanceIds.every((id) => id in outcomes) || opts.signal?.aborted) break;
    const pollMs = opts.pollIntervalMs ?? BRISK_POLL_MS;
    if (Date.now() + pollMs > deadline) break;
    await sleep(pollMs, undefined, { signal: opts.signal }).catch(() => {});
  }
  for (const id of instanceIds) {
    if (id in outcomes) continue;
    if (opts.signal?.aborted) outcomes[id] = { ok: false, reason: `the wait for Run Command ${commandId} on ${id} was cancelled` };
    else {
      const last = lastError ? describeAwsError(lastError, { action: 'ListCommandInvocations' }).message : null;
      outcomes[id] = { ok: false, reason: `Run Command ${commandId} did not finish on ${id} within ${opts.timeoutMs} ms${last ? ` (last answer: ${last})` : ''}` };
    }
  }
  return outcomes;
}

async function listInvocations(ssm: AwsClients['ssm'], commandId: string, opts: CallOptions): Promise<CommandInvocation[]> {
  const found: CommandInvocation[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true, MaxResults: SEND_COMMAND_MAX_INSTANCES, NextToken }), sendOptions(opts));
    found.push(...(out.CommandInvocations ?? []));
    NextToken = out.NextToken;
  } while (NextToken);
  return found;
}

function mayBeCut(output: string): boolean {
  return output.length >= LISTED_OUTPUT_MAX - ERROR_TITLE.length || CUT_MARKERS.some((m) => output.includes(m));
}

/** The listing's Output is stdout, then stderr under the agent's error title. */
function splitOutput(output: string): { stdout: string; stderr: string } {
  const at = output.indexOf(ERROR_TITLE);
  return at < 0 ? { stdout: output, stderr: '' } : { stdout: output.slice(0, at), stderr: output.slice(at + ERROR_TITLE.length) };
}

async function wholeAnswer(ssm: AwsClients['ssm'], commandId: string, instanceId: string, opts: CallOptions): Promise<ShellOutcome> {
  try {
    const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }), sendOptions(opts));
    return {
      ok: true,
      answer: { status: inv.Status ?? 'Unknown', exitCode: inv.ResponseCode ?? null, stdout: inv.StandardOutputContent ?? '', stderr: inv.StandardErrorContent ?? '' },
    };
  } catch (err) {
    return { ok: false, reason: `the whole answer of Run Command ${commandId} on ${instanceId} could not be read: ${describeAwsError(err, { action: 'GetCommandInvocation' }).message}` };
  }
}

interface ShellRequest {
  instanceIds: string[];
  lines: string[];
  comment: string;
  timeoutMs: number;
}

/**
 * The same lines for several environments' backends of one scope: one SendCommand (up to 50
 * instances), one read of the answers; each environment gets its own instances' outcomes.
 */
const SHELL_COMMAND: BatchedApi<ShellRequest, Record<string, ShellOutcome>, Record<string, ShellOutcome>> = {
  name: 'ssm:SendCommand',
  variant: (q) => JSON.stringify([q.comment, q.lines]),
  limit: SEND_COMMAND_MAX_INSTANCES,
  units: (q) => q.instanceIds,
  async send(env, instanceIds, requests, opts) {
    const { comment, lines } = requests[0]!;
    const timeoutMs = Math.max(...requests.map((q) => q.timeoutMs));
    return (await runShellCommand(env, instanceIds, lines, { comment, timeoutMs, signal: opts.signal })).outcomes;
  },
  answer(q, answers) {
    const all: Record<string, ShellOutcome> = Object.assign({}, ...answers);
    return Object.fromEntries(q.instanceIds.flatMap((id) => (all[id] ? [[id, all[id]]] : [])));
  },
};

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
 * `inspect: false` asks only the TCP question. Environments of the scope asking the same lines in
 * the same tick share the command (lib/aws/batch.ts).
 */
export async function readBackendReports(
  env: AwsEnvironmentConfig,
  instanceIds: string[],
  opts: CallOptions & { timeoutMs: number; tcpProbe?: TcpProbeRequest; inspect?: boolean },
): Promise<Record<string, BackendReport>> {
  if (instanceIds.length === 0) return {};
  const inspect = opts.inspect ?? true;
  const lines = [...(inspect ? containerLines() : []), ...(opts.tcpProbe ? tcpProbeLines(opts.tcpProbe) : [])];
  const comment = [inspect && 'container state', opts.tcpProbe && 'TCP to the database'].filter(Boolean).join(' and ');
  const outcomes = await batched(env, SHELL_COMMAND, { instanceIds, lines, comment, timeoutMs: opts.timeoutMs }, { signal: opts.signal });
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
