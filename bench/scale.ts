// Benchmark 8, scale: the home page (`/`, every environment's status) opened cold, over HTTP through
// `next start` as a person opens it, for 1, 5 and 20 environments in one account and region (one lab
// seeding 20: `startLab({ environments: 20 })`), with the AWS calls it cost. Environments of one
// scope share their calls (lib/aws/batch.ts), so the cost should grow with accounts, not
// environments: targets calls(20) ÷ calls(1) ≤ 3 and time(20) ÷ time(1) ≤ 1.5.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { startConsole, type BenchConsole } from './support/console';
import { intFromEnv, LATENCY_MS, startBenchLab, sum, type BenchLab } from './support/lab';
import { keyResult, median, ms, ratio, table, timed, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const SIZES = [1, 5, 20] as const;
const RUNS = intFromEnv('BENCH_SCALE_RUNS', 3, 1, 20);

interface Run {
  ms: number;
  calls: Record<string, number>;
  rows: number;
  healthy: number;
}

runBenchmark(async () => {
  title('Scale', [
    `AWS latency ${LATENCY_MS} ms a call (lab fault); the home page opened by a signed-in viewer on a console that has read nothing from AWS yet,`,
    `${RUNS} times per size (a console started afresh each time, warmed up on the local environment alone); the watcher is off; the lab seeds ${SIZES.at(-1)} environments in one account.`,
  ]);
  const lab = await startBenchLab('scale', { environments: SIZES.at(-1)! });
  await lab.setLatency(LATENCY_MS);
  const seeded = JSON.parse(readFileSync(lab.configPath, 'utf8')) as { environments: Array<{ kind: string; name: string }> };
  const aws = seeded.environments.filter((e) => e.kind === 'aws');
  const local = seeded.environments.filter((e) => e.kind !== 'aws');
  if (aws.length < SIZES.at(-1)!) throw new Error(`the lab seeded ${aws.length} AWS environments, not ${SIZES.at(-1)}`);
  const configure = (n: number) => writeConfig(lab, { ...seeded, environments: [...aws.slice(0, n), ...local] });

  const results = new Map<number, Run[]>();
  for (const n of SIZES) {
    const runs: Run[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await coldHomePage(lab, n, configure));
    results.set(n, runs);
  }
  configure(aws.length);

  const summary = SIZES.map((n) => {
    const runs = results.get(n)!;
    const calls = runs.at(-1)!.calls;
    return { n, ms: median(runs.map((r) => r.ms)), calls, total: sum(calls), healthy: runs.at(-1)!.healthy, rows: runs.at(-1)!.rows };
  });
  table(
    ['AWS environments', 'home page, cold (median)', 'runs', 'AWS calls', 'rows healthy'],
    summary.map((s) => [s.n, ms(s.ms), results.get(s.n)!.map((r) => ms(r.ms)).join(', '), s.total, `${s.healthy} of ${s.rows}`]),
  );
  const actions = [...new Set(summary.flatMap((s) => Object.keys(s.calls)))].sort();
  table(
    ['AWS call', ...SIZES.map((n) => `${n} env.`)],
    actions.map((a) => [a, ...summary.map((s) => s.calls[a] ?? 0)]),
  );
  const [one, , twenty] = summary as [(typeof summary)[0], (typeof summary)[0], (typeof summary)[0]];
  const callRatio = twenty.total / one.total;
  const timeRatio = twenty.ms / one.ms;
  table(
    ['figure', 'value', 'target'],
    [
      ['AWS calls, 20 environments ÷ 1', ratio(callRatio), '≤ 3'],
      ['home page time, 20 environments ÷ 1', ratio(timeRatio), '≤ 1.5'],
    ],
  );
  console.log('');
  console.log('Every row of the page counts, the local environment too (no AWS call). A row not healthy is reported, not hidden: its checks may have cost fewer calls.');
  keyResult(
    `home page cold: 1 env ${ms(one.ms)} / ${one.total} AWS calls, 5 env ${ms(summary[1]!.ms)} / ${summary[1]!.total}, 20 env ${ms(twenty.ms)} / ${twenty.total}; calls(20) ÷ calls(1) ${ratio(callRatio)} (target ≤ 3), time(20) ÷ time(1) ${ratio(timeRatio)} (target ≤ 1.5)`,
  );
});

/**
 * One cold home page for `n` environments: a console started afresh on the local environment alone
 * (so Next's first render, the store and the sign-in are paid before the clock starts), then the
 * config switched to `n` AWS environments (the console reads it again at the next request).
 */
async function coldHomePage(lab: BenchLab, n: number, configure: (n: number) => void): Promise<Run> {
  configure(0);
  const app: BenchConsole = await startConsole(lab);
  try {
    const cookie = await app.signIn('viewer');
    await page(app, cookie);
    configure(n);
    await lab.resetCounters();
    const { value: html, ms: took } = await timed(() => page(app, cookie));
    const calls = await lab.consoleCalls();
    // Each row streams in: first its "checking" placeholder, then the row with its state.
    const rows = new Set([...html.matchAll(/data-environment="([^"]+)"/g)].map((m) => m[1]));
    const healthy = new Set([...html.matchAll(/data-environment="([^"]+)" data-overall="healthy"/g)].map((m) => m[1]));
    return { ms: took, calls, rows: rows.size, healthy: healthy.size };
  } finally {
    await app.stop();
  }
}

async function page(app: BenchConsole, cookie: string): Promise<string> {
  const res = await fetch(`${app.url}/`, { headers: { cookie }, redirect: 'manual' });
  const html = await res.text();
  if (res.status !== 200) throw new Error(`the home page answered ${res.status}`);
  return html;
}

/** Replaced whole (a new file renamed over the old), as a deployment changes it. */
function writeConfig(lab: BenchLab, config: unknown): void {
  const next = `${lab.configPath}.next`;
  writeFileSync(next, JSON.stringify(config, null, 2));
  renameSync(next, lab.configPath);
}
