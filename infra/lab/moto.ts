import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, killLeftover, settlesWithin, sleep } from './ports';

// moto_server does the AWS APIs; the lab only starts it on a private port and stops it again.

export class MotoNotInstalledError extends Error {
  constructor(detail: string) {
    super(`moto_server is not available (${detail}). Install it with: pip install "moto[server]"`);
    this.name = 'MotoNotInstalledError';
  }
}

export interface Moto {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

export async function startMoto(options: { dataDir: string; log: (line: string) => void }): Promise<Moto> {
  const pidFile = join(options.dataDir, 'moto.pid');
  try {
    if (killLeftover(Number.parseInt(readFileSync(pidFile, 'utf8'), 10), 'moto_server')) options.log('stopped a moto left running by an earlier lab');
  } catch {
    // no earlier moto
  }
  // The port is picked before moto binds it, so another process can take it in between: retry then.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      const moto = await startOn(port, options.dataDir);
      writeFileSync(pidFile, `${moto.pid}\n`);
      return {
        ...moto,
        stop: async () => {
          await moto.stop();
          rmSync(pidFile, { force: true });
        },
      };
    } catch (err) {
      if (err instanceof MotoNotInstalledError) throw err;
      lastError = err as Error;
      options.log(`moto did not start on port ${port}, retrying: ${lastError.message}`);
    }
  }
  throw lastError ?? new Error('moto did not start');
}

async function startOn(port: number, dataDir: string): Promise<Moto> {
  const logFile = createWriteStream(join(dataDir, 'moto.log'), { flags: 'a' });
  const child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let tail = '';
  const keepTail = (chunk: Buffer) => {
    logFile.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-2000);
  };
  child.stdout!.on('data', keepTail);
  child.stderr!.on('data', keepTail);

  const exited = new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
    child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
    child.once('exit', (code) => resolve({ code }));
  });
  let gone: { code: number | null; error?: NodeJS.ErrnoException } | undefined;
  void exited.then((result) => {
    gone = result;
    logFile.end();
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (gone) {
      if (gone.error?.code === 'ENOENT') throw new MotoNotInstalledError('not found on PATH');
      // pyenv and similar shims exit 127 when the command is not installed for the active Python.
      if (gone.code === 127) throw new MotoNotInstalledError(lastLine(tail) || 'command not found');
      throw new Error(`moto_server exited with ${gone.code ?? gone.error?.message}: ${lastLine(tail)}`);
    }
    if (await answers(url)) break;
    await sleep(100);
  }
  if (!gone && !(await answers(url))) {
    await kill(child, exited);
    throw new Error(`moto_server did not answer on ${url} within ${READY_TIMEOUT_MS / 1000} s`);
  }

  return {
    url,
    port,
    pid: child.pid!,
    stop: () => kill(child, exited),
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

async function kill(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  if (!(await settlesWithin(exited, 3000))) {
    child.kill('SIGKILL');
    await exited;
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop()?.trim() ?? '';
}
