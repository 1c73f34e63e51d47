import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import pg from 'pg';
import { afterAll } from 'vitest';
import { labConsoleRole } from '@/infra/aws/lab-console-role';
import { runAwsCli, type AwsCliRun } from '@/infra/lab/aws-cli';
import { startLab } from '@/infra/lab/index';
import type { Lab, LabOptions } from '@/infra/lab/contract';

// The shared way for integration tests to get a lab: every port picked by the kernel and a data
// dir of its own, so test files (and people) running at the same time never collide. The lab is
// stopped and its data dir removed after the file's tests.

export interface TestLab extends Lab {
  /** Everything the lab logged, for assertions (e.g. that no secret was logged) and for failures. */
  logLines: string[];
}

// Registered when a test file imports this module, so it is that file's own afterAll. (An afterAll
// registered inside beforeAll, where startTestLab is called, would never run.)
const startedByThisFile: Array<{ lab?: Lab; dataDir: string }> = [];
afterAll(async () => {
  for (const started of startedByThisFile.splice(0)) {
    await started.lab?.stop();
    await rm(started.dataDir, { recursive: true, force: true });
  }
});

/**
 * Integration tests cause a fault and read afresh at once, so the console config the lab wrote is
 * given no minimum age for fresh reads and no per-caller limit on fresh diagnoses, unless a test
 * passes its own `consoleConfig` (top-level fields merged into the written config).
 */
const TEST_CONSOLE_CONFIG = { freshReads: { minAgeSeconds: 0, diagnosisEverySeconds: 0 } };

export async function startTestLab(overrides: Partial<LabOptions> & { consoleConfig?: Record<string, unknown> } = {}): Promise<TestLab> {
  const { consoleConfig = TEST_CONSOLE_CONFIG, ...labOverrides } = overrides;
  const dataDir = resolve('.lab', `test-${randomBytes(4).toString('hex')}`);
  const logLines: string[] = [];
  const verbose = !!process.env.LAB_LOG;
  const started: { lab?: Lab; dataDir: string } = { dataDir };
  startedByThisFile.push(started);
  const lab = await startLab({
    gatewayPort: 0,
    localBackendPort: 0,
    dataDir,
    resetSeconds: 2,
    syncIntervalMs: 500,
    log: (line) => {
      logLines.push(line);
      if (verbose) console.log(`[lab] ${line}`);
    },
    // The console runs as its deployment's least-privilege role, enforced on every call.
    consoleRole: labConsoleRole(),
    ...labOverrides,
  });
  started.lab = lab;
  const written = JSON.parse(await readFile(lab.configPath, 'utf8')) as Record<string, unknown>;
  await writeFile(lab.configPath, `${JSON.stringify({ ...written, ...consoleConfig }, null, 2)}\n`);
  return Object.assign(lab, { logLines });
}

/** A JSON call to the lab's control API, e.g. `labApi(lab, 'POST', '/_lab/faults', rule)`. */
export async function labApi<T = unknown>(lab: Lab, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${lab.awsEndpoint}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

export type CliResult = AwsCliRun;

/** The AWS CLI v2 from Debian against the lab. */
export function awsCli(lab: Lab, args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
  return runAwsCli(lab, args, { env: extraEnv });
}

export type LoginOutcome = 'ok' | 'auth-failed' | 'refused' | 'no-answer' | `error: ${string}`;

/**
 * Logs in as `user` through the lab's DB network (by default as an operator's tunnel) and runs
 * SELECT 1. A connection nobody answers is reported as `no-answer` after `noAnswerAfterMs`.
 */
export async function tryDbLogin(
  lab: Lab,
  password: string,
  options: { user?: string; database?: string; route?: { host: string; port: number }; noAnswerAfterMs?: number } = {},
): Promise<LoginOutcome> {
  const route = options.route ?? lab.db;
  const client = new pg.Client({
    host: route.host,
    port: route.port,
    user: options.user ?? lab.rds.masterUsername,
    password,
    database: options.database ?? lab.rds.dbName,
    connectionTimeoutMillis: options.noAnswerAfterMs ?? 3000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === '28P01') return 'auth-failed';
    if (e.code === 'ECONNREFUSED') return 'refused';
    if (/timeout/i.test(e.message)) return 'no-answer';
    return `error: ${e.code ?? e.message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}
