import type { ChildProcess } from 'node:child_process';

// Everything a benchmark starts must stop by itself, also on Ctrl-C: cleanups run last-in first-out
// on a normal end, when the benchmark fails and on SIGINT/SIGTERM (a second one exits at once);
// tracked child processes are killed even when the process exits without running them.

type Cleanup = { what: string; run: () => Promise<void> | void };

const cleanups: Cleanup[] = [];
/** Child processes, and whether each leads a process group of its own (spawned detached). */
const children = new Map<ChildProcess, boolean>();
let shuttingDown: Promise<void> | undefined;

export function onShutdown(what: string, run: () => Promise<void> | void): void {
  cleanups.push({ what, run });
}

/**
 * A child process that is killed when the benchmark ends. `group`: it was spawned detached, so the
 * signal goes to its process group and takes its own children (next start's workers) along.
 */
export function track(child: ChildProcess, group = false): ChildProcess {
  children.set(child, group);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(children.get(child) ? -child.pid : child.pid, signal);
  } catch {
    // already gone
  }
}

export function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    while (cleanups.length > 0) {
      const { what, run } = cleanups.pop()!;
      try {
        await run();
      } catch (err) {
        console.error(`stopping ${what} failed: ${(err as Error).message}`);
      }
    }
    for (const child of children.keys()) killChild(child, 'SIGKILL');
  })();
  return shuttingDown;
}

process.on('exit', () => {
  for (const child of children.keys()) killChild(child, 'SIGKILL');
});
let firstSignalAt = 0;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // Ctrl-C reaches us twice (from the terminal and forwarded by bench/run.ts): only a later one insists.
    if (shuttingDown) {
      if (Date.now() - firstSignalAt < 1000) return;
      console.error(`${signal} again: exiting without waiting for the clean-up`);
      process.exit(130);
    }
    firstSignalAt = Date.now();
    console.error(`\n${signal}: stopping what this benchmark started...`);
    void shutdown().finally(() => process.exit(130));
  });
}

/** Runs a benchmark's main, always cleaning up; a failure exits 1 with its message. */
export function runBenchmark(main: () => Promise<void>): void {
  main()
    .then(() => shutdown())
    .then(() => process.exit(0))
    .catch(async (err: unknown) => {
      console.error(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      await shutdown();
      process.exit(1);
    });
}
