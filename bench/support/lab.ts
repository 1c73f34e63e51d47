import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startLab } from '../../infra/lab/index';
import type { Lab } from '../../infra/lab/contract';
import { freePort } from './console';
import { onShutdown } from './shutdown';

// A lab of the benchmark's own: every port picked by the kernel, a data dir of its own (removed at
// the end), its log in a file rather than on the table, and the AWS latency every call pays.

/** The latency injected on every AWS call, as in life a region away (BENCH_LATENCY_MS, default 100). */
export const LATENCY_MS = intFromEnv('BENCH_LATENCY_MS', 100, 0, 10_000);

/** The access key the console's AWS clients use in lab mode, as the lab's counters name it. */
export const CONSOLE_ACCESS_KEY = 'LABCONSOLE';

export type CountsByService = Record<string, Record<string, number>>;
export interface RequestCounts {
  total: number;
  byService: CountsByService;
  byCaller: Record<string, { total: number; byService: CountsByService }>;
}

export interface BenchLab extends Lab {
  dataDir: string;
  /**
   * Where a benchmark's console listens, chosen before the lab starts: the lab's identity provider
   * sends sign-ins back only to a registered address. With the passwords of its viewer and operator.
   */
  consoleSeat: { port: number; passwords: { viewer: string; operator: string } };
  logFile: string;
  api<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  /** Replaces every fault with one latency rule on every AWS call. */
  setLatency(ms: number): Promise<void>;
  addFault(rule: Record<string, unknown>): Promise<void>;
  /** Clears every fault, then puts the benchmark's latency back. */
  resetFaults(): Promise<void>;
  resetCounters(): Promise<void>;
  counts(): Promise<RequestCounts>;
  /** The console's own calls (its access key), by "service:Action". */
  consoleCalls(): Promise<Record<string, number>>;
}

export function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${raw} is not valid: use a whole number from ${min} to ${max}`);
  return value;
}

/** For benchmarks that time a cold fresh status or diagnosis again and again: no minimum age, no per-caller limit. */
export const NO_FRESH_LIMITS = { freshReads: { minAgeSeconds: 0, diagnosisEverySeconds: 0 } };

/**
 * `consoleConfig`: top-level fields laid over the console config the lab writes (the defaults
 * otherwise); `environments`: how many LinkBox environments the lab seeds in its one account.
 */
export async function startBenchLab(name: string, opts: { resetSeconds?: number; environments?: number; consoleConfig?: Record<string, unknown> } = {}): Promise<BenchLab> {
  const dataDir = resolve('.lab', `bench-${name}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(resolve('.lab'), `bench-${name}.log`);
  appendFileSync(logFile, `\n---- ${new Date().toISOString()} ${name}: lab in ${dataDir}\n`);
  const consoleSeat = { port: await freePort(), passwords: { viewer: randomBytes(12).toString('base64url'), operator: randomBytes(12).toString('base64url') } };
  const starting = startLab({
    gatewayPort: 0,
    localBackendPort: 0,
    dataDir,
    ...(opts.resetSeconds === undefined ? {} : { resetSeconds: opts.resetSeconds }),
    ...(opts.environments === undefined ? {} : { environments: opts.environments }),
    log: (line) => appendFileSync(logFile, `${line}\n`),
    oidc: {
      redirectUris: [`http://127.0.0.1:${consoleSeat.port}/api/auth/callback/oidc`],
      passwords: { LAB_VIEWER_PASSWORD: consoleSeat.passwords.viewer, LAB_OPERATOR_PASSWORD: consoleSeat.passwords.operator },
    },
  });
  // Registered before the lab is up: a Ctrl-C during start-up still stops what it had started.
  onShutdown(`the ${name} lab`, async () => {
    const lab = await starting.catch(() => undefined);
    await lab?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });
  const lab = await starting;
  if (opts.consoleConfig) {
    const written = JSON.parse(readFileSync(lab.configPath, 'utf8')) as Record<string, unknown>;
    writeFileSync(lab.configPath, JSON.stringify({ ...written, ...opts.consoleConfig }, null, 2));
  }

  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${lab.awsEndpoint}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`lab ${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
  const setLatency = async (ms: number) => {
    await api('POST', '/_lab/reset');
    if (ms > 0) await api('POST', '/_lab/faults', { id: 'bench-latency', kind: 'latency', ms });
  };
  const counts = () => api<RequestCounts>('GET', '/_lab/requests');

  return Object.assign(lab, {
    dataDir,
    consoleSeat,
    logFile,
    api,
    setLatency,
    addFault: async (rule: Record<string, unknown>) => void (await api('POST', '/_lab/faults', rule)),
    resetFaults: () => setLatency(LATENCY_MS),
    resetCounters: async () => void (await api('DELETE', '/_lab/requests')),
    counts,
    consoleCalls: async () => flatten((await counts()).byCaller[CONSOLE_ACCESS_KEY]?.byService ?? {}),
  });
}

/** {ssm: {GetParameters: 1}} → {"ssm:GetParameters": 1}. */
export function flatten(byService: CountsByService): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [service, actions] of Object.entries(byService)) for (const [action, n] of Object.entries(actions)) out[`${service}:${action}`] = n;
  return out;
}

export function sum(calls: Record<string, number>): number {
  return Object.values(calls).reduce((a, b) => a + b, 0);
}
