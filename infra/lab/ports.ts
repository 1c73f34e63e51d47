import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// Small helpers for the lab's local listeners: everything binds to 127.0.0.1 only.

export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly setting: string,
  ) {
    super(`port ${port} is in use (${setting}); stop what holds it or choose another port`);
    this.name = 'PortInUseError';
  }
}

/** A port nobody listens on right now (the kernel's pick), for a child process that needs a number up front. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Fails fast, before anything is started, when a fixed port the operator chose is taken. */
export async function assertPortFree(port: number, setting: string): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(port, setting) : err),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` settled within `ms`; the timer never keeps the process alive past that. */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Stops a process a crashed lab left behind (its pid read from a file in the data dir), but only
 * if that pid still runs the program we expect: pids are reused.
 */
export function killLeftover(pid: number, commandLineIncludes: string, signal: NodeJS.Signals = 'SIGTERM'): boolean {
  if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) return false;
  let commandLine: string;
  try {
    commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return false; // gone, or not a system with /proc: nothing we can safely identify
  }
  if (!commandLine.includes(commandLineIncludes)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
