// Benchmark 6, the fresh-read budget: 50 viewers press "Refresh now" (a status with ?fresh=1) as fast
// as the answers come for 60 s, then 50 press "Diagnose again" (a fresh diagnosis) the same way. A
// fresh read serves a status younger than the config's minimum age (default 5 s) and each caller gets
// one fresh diagnosis per 10 s, so the console's Run Commands for the environment stay at most
// 60 s ÷ the minimum age (+1) however many press. Counted by the lab for the console's access key.
import { getConfig } from '../lib/config/load';
import type { Caller } from '../lib/roles';
import { diagnoseEnvironment } from '../lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '../lib/status';
import { pointConsoleAt } from './support/in-process';
import { CONSOLE_ACCESS_KEY, intFromEnv, LATENCY_MS, startBenchLab, type BenchLab } from './support/lab';
import { keyResult, ms, percentile, table, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const VIEWERS = intFromEnv('BENCH_FRESH_VIEWERS', 50, 1, 500);
const SECONDS = intFromEnv('BENCH_FRESH_SECONDS', 60, 1, 600);
/** Between an answer and the next press: a person clicking as fast as they can. */
const PRESS_MS = intFromEnv('BENCH_FRESH_PRESS_MS', 200, 0, 10_000);

interface Phase {
  name: string;
  presses: number;
  errors: number;
  /** Presses answered with the latest diagnosis because the caller's fresh one was too recent. */
  limited: number;
  p50: number;
  p95: number;
  runCommands: number;
  /** One per status computed afresh: the status reads RDS once. */
  statusLoads: number;
  elapsedS: number;
}

runBenchmark(async () => {
  title('Fresh-read budget', [
    `${VIEWERS} viewers for ${SECONDS} s each phase, each pressing again ${PRESS_MS} ms after every answer; the console's lib/ in-process with the config's defaults.`,
    `AWS latency ${LATENCY_MS} ms a call.`,
  ]);
  const lab = await startBenchLab('fresh-budget');
  pointConsoleAt(lab);
  await lab.setLatency(LATENCY_MS);
  const { minAgeSeconds, diagnosisEverySeconds } = getConfig().freshReads;
  const viewers: Caller[] = Array.from({ length: VIEWERS }, (_, i) => ({ id: `viewer-${i + 1}@linkbox.lab`, role: 'viewer', via: 'session' }));
  // One plain status first, so both phases start from a console that has read the environment once.
  await getEnvironmentStatus(viewers[0]!, 'production');

  const phases = [
    await pressFor(lab, '"Refresh now" (status, ?fresh=1)', viewers, async (caller) => {
      await getEnvironmentStatus(caller, 'production', { fresh: true });
      return false;
    }),
    await pressFor(lab, '"Diagnose again" (diagnosis, ?fresh=1)', viewers, async (caller) => {
      return (await diagnoseEnvironment(caller, 'production', { fresh: true })).freshLimited !== undefined;
    }),
  ];
  const bound = (p: Phase) => Math.floor(p.elapsedS / minAgeSeconds) + 1;
  table(
    ['phase', 'presses', 'errors', 'p50', 'p95', 'diagnoses limited', 'statuses loaded', 'Run Commands', 'bound: s ÷ min age + 1', 'met'],
    phases.map((p) => [p.name, p.presses, p.errors, ms(p.p50), ms(p.p95), p.limited, p.statusLoads, p.runCommands, bound(p), p.runCommands <= bound(p) ? 'yes' : 'NO']),
  );
  keyResult(
    phases
      .map((p) => `${p.name}: ${p.presses} presses in ${p.elapsedS.toFixed(0)} s, ${p.runCommands} Run Commands (bound ${bound(p)} = ${p.elapsedS.toFixed(0)} s ÷ ${minAgeSeconds} s + 1), ${p.statusLoads} fresh status loads`)
      .join('; ') + `; fresh diagnoses limited to one per ${diagnosisEverySeconds} s per caller`,
  );
});

async function pressFor(lab: BenchLab, name: string, viewers: Caller[], press: (caller: Caller) => Promise<boolean>): Promise<Phase> {
  await lab.resetCounters();
  const times: number[] = [];
  let errors = 0;
  let limited = 0;
  const started = performance.now();
  const endAt = started + SECONDS * 1000;
  await Promise.all(
    viewers.map(async (caller, i) => {
      // Not in lockstep: the viewers arrive spread over one press interval.
      await sleep((i / viewers.length) * Math.max(PRESS_MS, 100));
      while (performance.now() < endAt) {
        const t = performance.now();
        try {
          if (await press(caller)) limited++;
          times.push(performance.now() - t);
        } catch {
          errors++;
        }
        await sleep(PRESS_MS);
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  const calls = (await lab.counts()).byCaller[CONSOLE_ACCESS_KEY]?.byService ?? {};
  return {
    name,
    presses: times.length + errors,
    errors,
    limited,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
    runCommands: calls.ssm?.SendCommand ?? 0,
    statusLoads: calls.rds?.DescribeDBInstances ?? 0,
    elapsedS,
  };
}

function sleep(msToWait: number): Promise<void> {
  return new Promise((r) => setTimeout(r, msToWait));
}
