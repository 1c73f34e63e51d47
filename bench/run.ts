// `npm run bench`: every benchmark, one after another, each in a process of its own (its own lab,
// console and caches), under `node --conditions=react-server` so the console's lib/ code runs here
// as it does in Next's server build. `npm run bench -- load rotation-window` runs a subset.
// The output goes to the terminal and to bench/results/latest.txt; Ctrl-C stops the running
// benchmark, which stops everything it started.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureBuild } from './support/build';

const BENCHMARKS = ['status-fanout', 'call-budget', 'load', 'rotation-window', 'diagnosis-time', 'fresh-budget', 'watcher', 'first-section', 'scale'] as const;
/** These talk to the console over HTTP, so they need its production build. */
const NEED_BUILD = ['call-budget', 'load', 'first-section', 'scale'];
const here = dirname(fileURLToPath(import.meta.url));

const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !(BENCHMARKS as readonly string[]).includes(w));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}; choose from ${BENCHMARKS.join(', ')}`);
  process.exit(2);
}
const chosen = wanted.length ? BENCHMARKS.filter((b) => wanted.includes(b)) : [...BENCHMARKS];

mkdirSync(join(here, 'results'), { recursive: true });
const out = createWriteStream(join(here, 'results', 'latest.txt'));
const say = (text: string) => {
  process.stdout.write(text);
  out.write(text);
};

/** What runs now: a benchmark, or the build (its own process group). */
let current: { child: ChildProcess; group: boolean } | undefined;
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true;
    // A benchmark cleans up on its own signal and we wait for it to exit; a build's whole group stops.
    const pid = current?.child.pid;
    if (current && pid !== undefined && current.child.exitCode === null) {
      try {
        process.kill(current.group ? -pid : pid, signal);
      } catch {
        // already gone
      }
    }
  });
}

function runOne(name: string): Promise<{ code: number; ms: number; key: string }> {
  const started = Date.now();
  return new Promise((done) => {
    let key = '';
    let tail = '';
    const child = spawn(process.execPath, ['--conditions=react-server', '--import', 'tsx', join(here, `${name}.ts`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The SDK warns that its releases from 2027 need Node 22; true, but not a figure of ours.
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    current = { child, group: false };
    const take = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      say(text);
      tail = (tail + text).slice(-4000);
      const m = /^KEY (.*)$/m.exec(tail);
      if (m) key = m[1]!;
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
    child.on('exit', (code, signal) => done({ code: code ?? (signal ? 128 : 1), ms: Date.now() - started, key }));
  });
}

async function main(): Promise<void> {
  const started = Date.now();
  say(`LinkBox Ops Console benchmarks, ${new Date().toISOString()}\n`);
  say(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}; AWS latency ${process.env.BENCH_LATENCY_MS ?? 100} ms a call\n`);
  if (chosen.some((b) => NEED_BUILD.includes(b))) {
    // Built before any benchmark starts, so no benchmark's figures share the machine with a build.
    await ensureBuild((child) => (current = { child, group: true })).catch((err: Error) => {
      say(`${err.message}\n`);
      process.exit(interrupted ? 130 : 1);
    });
  }
  const results: Array<{ name: string; code: number; ms: number; key: string }> = [];
  for (const name of chosen) {
    if (interrupted) break;
    results.push({ name, ...(await runOne(name)) });
  }
  say('\n== Summary ==\n');
  for (const r of results) say(`${r.name.padEnd(16)} ${(r.ms / 1000).toFixed(0).padStart(4)} s  ${r.code === 0 ? r.key || '(no key result)' : `FAILED (exit ${r.code})`}\n`);
  say(`total ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
  await new Promise((r) => out.end(r));
  process.exit(interrupted ? 130 : results.every((r) => r.code === 0) ? 0 : 1);
}

void main();
