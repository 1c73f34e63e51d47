import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

// The console's production build the benchmarks run: a dist dir of their own, so they never clobber
// (or wait for) anyone else's .next. Built once when missing; BENCH_REBUILD=1 forces a new one.

export const DIST_DIR = process.env.BENCH_NEXT_DIST_DIR || '.next-bench';
export const NEXT_BIN = join('node_modules', 'next', 'dist', 'bin', 'next');

/** Builds when needed; `started` gets the build process so the caller can stop it on Ctrl-C. */
export async function ensureBuild(started: (child: ChildProcess) => void = () => {}): Promise<void> {
  if (existsSync(join(DIST_DIR, 'BUILD_ID')) && process.env.BENCH_REBUILD !== '1') return;
  console.log(`No console build in ${DIST_DIR}: building it once (next build, a few minutes on 2 cores)...`);
  const t0 = Date.now();
  await new Promise<void>((done, fail) => {
    // Its own process group, so stopping it also stops the workers next build forks.
    const child = spawn(process.execPath, [NEXT_BIN, 'build'], { env: { ...process.env, NEXT_DIST_DIR: DIST_DIR }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    started(child);
    let output = '';
    const keep = (chunk: Buffer) => void (output = (output + chunk.toString('utf8')).slice(-6000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('exit', (code, signal) => (code === 0 ? done() : fail(new Error(`next build ${signal ? `was stopped (${signal})` : `exited with ${code}`}:\n${output}`))));
  });
  console.log(`built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  // One forced build per run: benchmarks started after this one (children inherit it) reuse it.
  delete process.env.BENCH_REBUILD;
}
