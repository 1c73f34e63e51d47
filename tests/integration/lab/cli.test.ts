import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { delimiter, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabState } from '@/infra/lab/contract';
import { eventually } from '../support/lab';

// `npm run lab` as an operator meets it: it says what is wrong when it cannot start, and a SIGTERM
// stops everything it started.

const dataDirs: string[] = [];
afterAll(async () => {
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = resolve('.lab', `test-cli-${Math.random().toString(36).slice(2, 10)}`);
  dataDirs.push(dir);
  return dir;
}

interface Run {
  code: Promise<number | null>;
  output: () => string;
  waitFor: (text: string) => Promise<void>;
  signal: (s: NodeJS.Signals) => void;
}

function runLab(env: Record<string, string | undefined>): Run {
  // One process (tsx as a loader, not its CLI wrapper), so a signal reaches the lab itself.
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/lab/main.ts'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const w of waiters.filter((w) => output.includes(w.text))) w.resolve();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const code = new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  return {
    code,
    output: () => output,
    waitFor: (text) =>
      new Promise<void>((ok, fail) => {
        if (output.includes(text)) return ok();
        waiters.push({ text, resolve: ok });
        void code.then((c) => fail(new Error(`the lab exited (${c}) before printing "${text}":\n${output}`)));
      }),
    signal: (s) => child.kill(s),
  };
}

async function holdPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const address = server.address();
  return { port: typeof address === 'object' && address ? address.port : 0, server };
}

describe('npm run lab', () => {
  it('without moto_server on PATH says how to install it and exits non-zero', async () => {
    const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir && !existsSync(join(dir, 'moto_server')));
    const run = runLab({ PATH: path.join(delimiter), LAB_GATEWAY_PORT: '0', LAB_LOCAL_BACKEND_PORT: '0', LAB_DATA_DIR: dataDir() });
    expect(await run.code).not.toBe(0);
    expect(run.output()).toContain('pip install "moto[server]"');
  });

  it('names a gateway port that is in use, and the setting that chose it', async () => {
    const { port, server } = await holdPort();
    try {
      const run = runLab({ LAB_GATEWAY_PORT: String(port), LAB_LOCAL_BACKEND_PORT: '0', LAB_DATA_DIR: dataDir() });
      expect(await run.code).not.toBe(0);
      expect(run.output()).toContain(`port ${port} is in use (LAB_GATEWAY_PORT)`);
    } finally {
      server.close();
    }
  });

  it('stops moto, PostgreSQL and the backends on SIGTERM and exits 0', async () => {
    const { port, server } = await holdPort();
    server.close(); // a port that was free a moment ago, so the gateway URL is known up front
    const dir = dataDir();
    const run = runLab({ LAB_GATEWAY_PORT: String(port), LAB_LOCAL_BACKEND_PORT: '0', LAB_DATA_DIR: dir });
    await run.waitFor('Press Ctrl-C to stop.');
    const state = (await (await fetch(`http://127.0.0.1:${port}/_lab/state`)).json()) as LabState;
    expect(existsSync(join(dir, 'moto.pid'))).toBe(true);
    expect(existsSync(join(dir, 'postgres', 'postmaster.pid'))).toBe(true);

    run.signal('SIGTERM');
    expect(await run.code).toBe(0);
    expect(existsSync(join(dir, 'moto.pid'))).toBe(false);
    expect(existsSync(join(dir, 'postgres', 'postmaster.pid'))).toBe(false);
    for (const url of [`http://127.0.0.1:${port}/_lab/state`, ...state.instances.map((i) => i.healthUrl), state.local.backendUrl]) {
      await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    }
  });

  it('leaves no moto or PostgreSQL running when the lab itself is killed outright', async () => {
    const dir = dataDir();
    const run = runLab({ LAB_GATEWAY_PORT: '0', LAB_LOCAL_BACKEND_PORT: '0', LAB_DATA_DIR: dir });
    await run.waitFor('Press Ctrl-C to stop.');
    const motoPid = Number(readFileSync(join(dir, 'moto.pid'), 'utf8'));
    const postgresPid = Number(readFileSync(join(dir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(alive(motoPid) && alive(postgresPid)).toBe(true);

    run.signal('SIGKILL');
    await run.code;
    await eventually(async () => (!alive(motoPid) && !alive(postgresPid) ? true : undefined), 'moto and PostgreSQL to be stopped', 20_000);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
