import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setConfigForTests } from '@/lib/config/load';
import { getStore } from '@/lib/store';
import { awsCli, eventually, type TestLab } from '../support/lab';

// What the watcher's integration tests share: a webhook receiver the test starts, a console config
// with the watcher's settings written next to the lab's, watcher replicas as real processes, and
// faults caused with the AWS CLI.

export interface Received {
  at: number;
  status: number;
  body: { id: string; kind: string; environment: string | null; previousState: string | null; state: string | null; rootCause: { check: string; summary: string } | null; message: string };
}

export interface WebhookReceiver {
  url: string;
  requests: Received[];
  /** The notifications answered 2xx. */
  delivered(): Received[];
  /** Answers the next `n` requests with this HTTP status. */
  failNext(n: number, status?: number): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(path = '/hook'): Promise<WebhookReceiver> {
  const requests: Received[] = [];
  const failures: number[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const status = failures.shift() ?? 200;
      requests.push({ at: Date.now(), status, body: JSON.parse(text) });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    // The token in the query is what a real webhook carries: it must never show up anywhere else.
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}?token=hook-secret-${(server.address() as AddressInfo).port}`,
    requests,
    delivered: () => requests.filter((r) => r.status >= 200 && r.status < 300),
    failNext: (n, status = 500) => failures.push(...Array<number>(n).fill(status)),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The lab's console config with the watcher's settings, written to `<name>.json` beside it, and loaded. */
export function writeWatchConfig(lab: TestLab, name: string, extra: Record<string, unknown>, perEnvironment: Record<string, Record<string, unknown>> = {}): string {
  const config = JSON.parse(readFileSync(lab.configPath, 'utf8')) as { environments: Array<Record<string, unknown>> };
  const path = join(lab.configPath, '..', `${name}.json`);
  const merged = { ...config, ...extra, environments: config.environments.map((e) => ({ ...e, ...(perEnvironment[e.name as string] ?? {}) })) };
  writeFileSync(path, JSON.stringify(merged, null, 2));
  process.env.LINKBOX_CONFIG = path;
  setConfigForTests(merged as unknown as Parameters<typeof setConfigForTests>[0]);
  return path;
}

/** The watcher's record of an environment, once it has one (the first look happened). */
export async function firstLook(environment: string, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => {
    const store = await getStore();
    return (await store.db.selectFrom('watch_state').select('environment').where('environment', '=', environment).executeTakeFirst()) ? true : undefined;
  }, `the watcher's first look at ${environment}`, timeoutMs);
}

async function cli(lab: TestLab, args: string[]): Promise<void> {
  const out = await awsCli(lab, args);
  if (out.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${out.stderr.trim().slice(0, 300)}`);
}

/** A typo in SSM's db-username, as a hand edit makes it: rds.username-match fails (and the login with it). */
export function breakUsername(lab: TestLab): Promise<void> {
  return cli(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-username`, '--type', 'String', '--value', 'linkbox_typo', '--overwrite']);
}

export function restoreUsername(lab: TestLab): Promise<void> {
  return cli(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-username`, '--type', 'String', '--value', lab.rds.masterUsername, '--overwrite']);
}

// ---- watcher replicas as real processes ----

export interface WatcherProcess {
  proc: ChildProcess;
  output: string[];
  leading(): boolean;
  exited: Promise<number | null>;
  kill(): Promise<void>;
}

const script = fileURLToPath(new URL('./watcher-process.ts', import.meta.url));

/** A console replica that only watches: the same lib/ code the Next server runs, configured by environment variables. */
export function spawnWatcher(env: Record<string, string>): WatcherProcess {
  const proc = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', script], {
    cwd: process.cwd(),
    env: { NODE_ENV: 'test', PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let leading = false;
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    output.push(line);
    if (line.includes('this console now checks every environment')) leading = true;
    if (line.includes('another console checks the environments now')) leading = false;
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => output.push(line));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    proc,
    output,
    leading: () => leading,
    exited,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
}
