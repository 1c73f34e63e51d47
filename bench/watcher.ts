// Benchmark 6, the watcher's cost: AWS calls per second of the watcher checking 1 and 20
// environments, next to page viewers' (the page's own 10 s auto-refresh) and to both at once. The
// 20 environments are 20 config entries pointed at the lab's one set of resources (same account,
// region and credentials, as environments of one account share them): the lab seeds one.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidateCache } from '../lib/aws/cache';
import { getEnvironmentStatus } from '../lib/status';
import { startWatcher, stopWatcher } from '../lib/watcher';
import { pointConsoleAt, viewer } from './support/in-process';
import { intFromEnv, LATENCY_MS, startBenchLab, sum, type BenchLab } from './support/lab';
import { keyResult, ratio, table, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const SECONDS = intFromEnv('BENCH_WATCH_SECONDS', 60, 10, 3600);
const INTERVAL_SECONDS = intFromEnv('BENCH_WATCH_INTERVAL_SECONDS', 15, 1, 3600);
const VIEWERS = intFromEnv('BENCH_WATCH_VIEWERS', 5, 1, 200);
const PAGE_REFRESH_MS = 10_000;

interface Scenario {
  name: string;
  environments: number;
  watcher: boolean;
  viewers: number;
}

interface Measured extends Scenario {
  calls: number;
  perSecond: number;
  byAction: Record<string, number>;
}

runBenchmark(async () => {
  title('Watcher', [
    `AWS latency ${LATENCY_MS} ms a call (lab fault); each scenario runs ${SECONDS} s on a cold cache. Watcher interval ${INTERVAL_SECONDS} s (the default is 60 s);`,
    `viewers: ${VIEWERS} pages open on production, each re-rendering every ${PAGE_REFRESH_MS / 1000} s as its auto-refresh does (getEnvironmentStatus, the page's own call); cache TTL 15 s.`,
  ]);
  const lab = await startBenchLab('watcher');
  pointConsoleAt(lab);
  process.env.WATCH_INTERVAL_SECONDS = String(INTERVAL_SECONDS);
  await lab.setLatency(LATENCY_MS);

  const scenarios: Scenario[] = [
    { name: `${VIEWERS} viewers, no watcher`, environments: 1, watcher: false, viewers: VIEWERS },
    { name: 'watcher, 1 environment', environments: 1, watcher: true, viewers: 0 },
    { name: 'watcher, 20 environments', environments: 20, watcher: true, viewers: 0 },
    { name: `watcher, 1 environment + ${VIEWERS} viewers`, environments: 1, watcher: true, viewers: VIEWERS },
  ];
  const results: Measured[] = [];
  for (const s of scenarios) results.push(await measure(lab, s));

  table(
    ['scenario', 'AWS calls', 'calls/s', `per ${INTERVAL_SECONDS} s`, 'by action'],
    results.map((r) => [r.name, r.calls, r.perSecond.toFixed(2), (r.perSecond * INTERVAL_SECONDS).toFixed(1), Object.entries(r.byAction).map(([a, n]) => `${a} ${n}`).join(', ')]),
  );
  const [viewers, one, twenty, both] = results as [Measured, Measured, Measured, Measured];
  const atDefault = (r: Measured) => (r.perSecond * INTERVAL_SECONDS) / 60;
  console.log('');
  console.log(`At the default 60 s interval the watcher alone would make about ${atDefault(one).toFixed(2)} calls/s for 1 environment and ${atDefault(twenty).toFixed(2)} for 20 (one look's calls every 60 s).`);
  keyResult(
    `watcher ${one.perSecond.toFixed(2)} AWS calls/s for 1 environment, ${twenty.perSecond.toFixed(2)} for 20 (×${ratio(twenty.perSecond / one.perSecond)}), at a ${INTERVAL_SECONDS} s interval; ${VIEWERS} viewers ${viewers.perSecond.toFixed(2)}/s; watcher + viewers ${both.perSecond.toFixed(2)}/s = ×${ratio(both.perSecond / Math.max(one.perSecond, viewers.perSecond))} the larger alone`,
  );
});

async function measure(lab: BenchLab, scenario: Scenario): Promise<Measured> {
  configureEnvironments(lab, scenario.environments);
  invalidateCache();
  await lab.resetCounters();
  const started = Date.now();
  const stopAt = started + SECONDS * 1000;
  if (scenario.watcher) startWatcher();
  const viewers = Array.from({ length: scenario.viewers }, (_, i) => watchPage(stopAt, (i * PAGE_REFRESH_MS) / Math.max(1, scenario.viewers)));
  await Promise.all([...viewers, new Promise((r) => setTimeout(r, stopAt - Date.now()))]);
  if (scenario.watcher) await stopWatcher();
  const byAction = await lab.consoleCalls();
  const calls = sum(byAction);
  return { ...scenario, calls, perSecond: calls / ((Date.now() - started) / 1000), byAction };
}

/** One open page: a render on arrival, then one per auto-refresh, until `stopAt`. */
async function watchPage(stopAt: number, phaseMs: number): Promise<void> {
  await new Promise((r) => setTimeout(r, phaseMs));
  while (Date.now() < stopAt) {
    await getEnvironmentStatus(viewer, 'production');
    await new Promise((r) => setTimeout(r, Math.min(PAGE_REFRESH_MS, Math.max(0, stopAt - Date.now()))));
  }
}

/** The lab's config with `n` copies of production (the first keeps its name), and no local environment. */
function configureEnvironments(lab: BenchLab, n: number): void {
  const config = JSON.parse(readFileSync(lab.configPath, 'utf8')) as { environments: Array<{ name: string; kind: string }> };
  const production = config.environments.find((e) => e.name === 'production')!;
  const environments = Array.from({ length: n }, (_, i) => ({ ...production, name: i === 0 ? 'production' : `production-${String(i + 1).padStart(2, '0')}` }));
  const path = join(lab.dataDir, `watcher-${n}.config.json`);
  writeFileSync(path, JSON.stringify({ ...config, environments }, null, 2));
  process.env.LINKBOX_CONFIG = path;
}
