// Benchmark 3, load: 50 signed-in viewers (real next-auth sessions) keep the production page open
// and refresh it for 60 s. Each viewer reloads the whole page after a think time (default 1 s, ten
// times the page's own 10 s auto-refresh) and presses "Refresh now" (the status API with ?fresh=1,
// then the page) every tenth time. Served requests, latency percentiles, errors, and the AWS calls
// per second the console made meanwhile, against the account's shared SSM quota (about 40/s).
import { startConsole, type BenchConsole } from './support/console';
import { CONSOLE_ACCESS_KEY, intFromEnv, LATENCY_MS, startBenchLab, sum } from './support/lab';
import { keyResult, ms, percentile, table, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const VIEWERS = intFromEnv('BENCH_LOAD_VIEWERS', 50, 1, 500);
const SECONDS = intFromEnv('BENCH_LOAD_SECONDS', 60, 1, 600);
const THINK_MS = intFromEnv('BENCH_LOAD_THINK_MS', 1000, 0, 60_000);
const FRESH_EVERY = 10;
const SSM_QUOTA_PER_SECOND = 40;
const PAGE = '/environments/production';
const API_FRESH = '/api/v1/environments/production/status?fresh=1';

type Kind = 'page reload' | 'Refresh now (API ?fresh=1)';
interface Sample {
  kind: Kind;
  ms: number;
  ok: boolean;
  error?: string;
}

runBenchmark(async () => {
  title('Load', [
    `${VIEWERS} signed-in viewers for ${SECONDS} s; each reloads ${PAGE} (full HTML) after ${THINK_MS} ms of thinking and presses "Refresh now" every ${FRESH_EVERY}th time.`,
    `AWS latency ${LATENCY_MS} ms a call.`,
  ]);
  const lab = await startBenchLab('load');
  await lab.setLatency(LATENCY_MS);
  const app = await startConsole(lab);
  const cookies = await Promise.all(Array.from({ length: VIEWERS }, () => app.signIn('viewer')));
  // One page load warms the route (first-render costs) so the run measures the steady state.
  await request(app, PAGE, cookies[0]!, 'page reload');

  await lab.resetCounters();
  const samples: Sample[] = [];
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  await Promise.all(
    cookies.map(async (cookie, viewer) => {
      // Viewers arrive spread over one think time, and press "Refresh now" at different turns: not in lockstep.
      await sleep(((viewer + 0.5) / VIEWERS) * THINK_MS);
      for (let i = 1; performance.now() < endAt; i++) {
        if ((i + viewer) % FRESH_EVERY === 0) samples.push(await request(app, API_FRESH, cookie, 'Refresh now (API ?fresh=1)'));
        if (performance.now() >= endAt) break;
        samples.push(await request(app, PAGE, cookie, 'page reload'));
        const left = endAt - performance.now();
        if (left > 0) await sleep(Math.min(THINK_MS, left));
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const counts = await lab.counts();
  const consoleCounts = counts.byCaller[CONSOLE_ACCESS_KEY];
  const consoleCalls = consoleCounts?.total ?? 0;
  const consoleSsm = sum(consoleCounts?.byService.ssm ?? {});

  const kinds: Kind[] = ['page reload', 'Refresh now (API ?fresh=1)'];
  const row = (label: string, s: Sample[]) => {
    const times = s.filter((x) => x.ok).map((x) => x.ms);
    const at = (p: number) => (times.length ? ms(percentile(times, p)) : '-');
    return [label, s.filter((x) => x.ok).length, s.filter((x) => !x.ok).length, at(50), at(95), at(99), at(100)];
  };
  table(
    ['requests', 'served', 'errors', 'p50', 'p95', 'p99', 'max'],
    [...kinds.map((k) => row(k, samples.filter((s) => s.kind === k))), row('all', samples)],
  );
  const errors = samples.filter((s) => !s.ok);
  if (errors.length) {
    const byReason = new Map<string, number>();
    for (const e of errors) byReason.set(e.error!, (byReason.get(e.error!) ?? 0) + 1);
    table(['error', 'count'], [...byReason].map(([reason, n]) => [reason, n]));
  }
  table(
    ['AWS calls during the run', 'calls', 'per second'],
    [
      ['console, all services', consoleCalls, (consoleCalls / elapsedS).toFixed(2)],
      ['console, SSM only', consoleSsm, (consoleSsm / elapsedS).toFixed(2)],
      ['everyone (console and backends)', counts.total, (counts.total / elapsedS).toFixed(2)],
    ],
  );
  table(
    ['console call', 'calls'],
    Object.entries(consoleCounts?.byService ?? {}).flatMap(([service, actions]) => Object.entries(actions).map(([action, n]) => [`${service}:${action}`, n])),
  );
  const served = samples.filter((s) => s.ok).length;
  const all = samples.filter((s) => s.ok).map((s) => s.ms);
  keyResult(
    `${served} requests served in ${elapsedS.toFixed(0)} s (${(served / elapsedS).toFixed(1)}/s), p50 ${ms(percentile(all, 50))}, p95 ${ms(percentile(all, 95))}, p99 ${ms(percentile(all, 99))}, ` +
      `${errors.length} errors (target 0); console AWS calls ${(consoleCalls / elapsedS).toFixed(2)}/s, SSM ${(consoleSsm / elapsedS).toFixed(2)}/s = ${((consoleSsm / elapsedS / SSM_QUOTA_PER_SECOND) * 100).toFixed(0)}% of a ${SSM_QUOTA_PER_SECOND}/s quota`,
  );
});

async function request(app: BenchConsole, path: string, cookie: string, kind: Kind): Promise<Sample> {
  const started = performance.now();
  try {
    const res = await fetch(`${app.url}${path}`, { headers: { cookie }, redirect: 'manual', signal: AbortSignal.timeout(30_000) });
    await res.arrayBuffer();
    return { kind, ms: performance.now() - started, ok: res.status === 200, ...(res.status === 200 ? {} : { error: `HTTP ${res.status}` }) };
  } catch (err) {
    return { kind, ms: performance.now() - started, ok: false, error: (err as Error).name === 'TimeoutError' ? 'no answer within 30 s' : (err as Error).message };
  }
}

function sleep(msToWait: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msToWait));
}
