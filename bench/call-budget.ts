// Benchmark 2, the AWS call budget, counted by the lab per action for the console's access key:
// one cold status, warm refreshes inside the cache TTL (target 0), 50 viewers opening the
// environment page at the same moment on a cold console (target: the calls of one cold load), and a
// fresh diagnosis of a healthy production (target: the status's calls plus the runbook-only ones).
import { CONSOLE_ACCESS_KEY, LATENCY_MS, startBenchLab, sum, type BenchLab } from './support/lab';
import { startConsole, type BenchConsole } from './support/console';
import { keyResult, ms, percentile, table, timed, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const VIEWERS = 50;
const WARM_REFRESHES = 5;
const PAGE = '/environments/production';
const API = '/api/v1/environments/production/status';
const DIAGNOSIS = '/api/v1/environments/production/diagnosis?fresh=1';

/**
 * What a fresh diagnosis may cost: each API of the status once (GetParameters twice: the four names,
 * and the password decrypted once for the login and the backend-credentials check; every instance's
 * answer in one listing a poll, a second poll when the agents had not finished at the first; the
 * VPC's subnets, network ACLs and RDS's interface for the path checks), plus the runbook-only calls: one
 * GetInstanceProfile and one SimulatePrincipalPolicy (all its actions) for the lab's one instance
 * role, and the agents. One SendCommand carries both the container inspection and nc.
 */
function diagnosisBudget(): Record<string, number> {
  return {
    'ssm:GetParameters': 2,
    'ssm:DescribeParameters': 1,
    'rds:DescribeDBInstances': 1,
    'ec2:DescribeSecurityGroups': 1,
    'ec2:DescribeInstances': 1,
    'ec2:DescribeSubnets': 1,
    'ec2:DescribeNetworkAcls': 1,
    'ec2:DescribeNetworkInterfaces': 1,
    'ssm:SendCommand': 1,
    'ssm:ListCommandInvocations': 2,
    'iam:GetInstanceProfile': 1,
    'iam:SimulatePrincipalPolicy': 1,
    'ssm:DescribeInstanceInformation': 1,
  };
}

function withinBudget(calls: Record<string, number>, budget: Record<string, number>): boolean {
  return Object.entries(calls).every(([action, n]) => n <= (budget[action] ?? 0));
}

interface Scenario {
  name: string;
  requests: number;
  ok: number;
  calls: Record<string, number>;
  target: string;
  met: boolean | null;
  p50?: number;
  max?: number;
}

runBenchmark(async () => {
  title('AWS call budget', [`AWS latency ${LATENCY_MS} ms a call; calls counted by the lab for the console's access key (${CONSOLE_ACCESS_KEY}).`]);
  const lab = await startBenchLab('call-budget');
  await lab.setLatency(LATENCY_MS);
  let consoleApp = await startConsole(lab);
  const scenarios: Scenario[] = [];

  // One viewer opens the page on a console that has fetched nothing yet.
  const cookie = await consoleApp.signIn('viewer');
  const cold = await measure(lab, [() => get(consoleApp, PAGE, { cookie })]);
  scenarios.push({ name: 'one viewer opens the page (cold)', ...cold, target: 'one call per API it needs', met: null });
  const coldCalls = sum(cold.calls);

  const warmPages = await measure(lab, Array.from({ length: WARM_REFRESHES }, () => () => get(consoleApp, PAGE, { cookie })), true);
  scenarios.push({ name: `${WARM_REFRESHES} page reloads inside the TTL`, ...warmPages, target: '0', met: sum(warmPages.calls) === 0 });
  // The JSON API reads the same status through the same lib/status: inside the TTL it should cost nothing either.
  const firstApi = await measure(lab, [() => get(consoleApp, API, { bearer: consoleApp.bearer })]);
  scenarios.push({ name: 'first status API read, right after the page load', ...firstApi, target: '0 (one cache)', met: sum(firstApi.calls) === 0 });
  const warmApi = await measure(lab, Array.from({ length: WARM_REFRESHES }, () => () => get(consoleApp, API, { bearer: consoleApp.bearer })), true);
  scenarios.push({ name: `${WARM_REFRESHES} more status API reads inside the TTL`, ...warmApi, target: '0', met: sum(warmApi.calls) === 0 });

  // "Refresh now" bypasses the cache on purpose; 50 at once must still share one load.
  const freshHerd = await measure(lab, Array.from({ length: VIEWERS }, () => () => get(consoleApp, `${API}?fresh=1`, { bearer: consoleApp.bearer })));
  scenarios.push({ name: `${VIEWERS} "Refresh now" (?fresh=1) at once`, ...freshHerd, target: `≤ ${coldCalls} (one load)`, met: sum(freshHerd.calls) <= coldCalls });

  // A console with nothing cached again: a new process, then 50 signed-in viewers open the page together.
  await consoleApp.stop();
  consoleApp = await startConsole(lab);
  const cookies = await Promise.all(Array.from({ length: VIEWERS }, () => consoleApp.signIn('viewer')));
  const pageHerd = await measure(lab, cookies.map((c) => () => get(consoleApp, PAGE, { cookie: c })));
  scenarios.push({ name: `${VIEWERS} viewers open the page at once (cold)`, ...pageHerd, target: `${coldCalls} (one cold load)`, met: sum(pageHerd.calls) <= coldCalls });

  // A fresh diagnosis on a console whose cache is warm: only the diagnosis's own reads count.
  const budget = diagnosisBudget();
  const diagnosis = await measure(lab, [() => get(consoleApp, DIAGNOSIS, { bearer: consoleApp.bearer })]);
  scenarios.push({
    name: 'a fresh diagnosis of a healthy production',
    ...diagnosis,
    target: `≤ ${sum(budget)}: status + runbook-only`,
    met: withinBudget(diagnosis.calls, budget),
  });

  const actions = [...new Set(scenarios.flatMap((s) => Object.keys(s.calls)))].sort();
  table(
    ['scenario', 'requests', 'HTTP 200', 'p50', 'slowest', 'AWS calls', 'target', 'met'],
    scenarios.map((s) => [s.name, s.requests, s.ok, s.p50 === undefined ? '-' : ms(s.p50), s.max === undefined ? '-' : ms(s.max), sum(s.calls), s.target, s.met === null ? '-' : s.met ? 'yes' : 'NO']),
  );
  table(
    ['AWS call', ...scenarios.map((_, i) => `#${i + 1}`), 'diagnosis budget'],
    actions.map((a) => [a, ...scenarios.map((s) => s.calls[a] ?? 0), budget[a] ?? 0]),
  );
  console.log('');
  console.log(scenarios.map((s, i) => `#${i + 1} ${s.name}`).join('\n'));
  if (sum(firstApi.calls) > 0) {
    console.log('');
    console.log(
      `The status API's first read after the page load cost ${sum(firstApi.calls)} calls: the page and the route handler each hold their own copy of the cache ` +
        '(Next bundles them apart), so one status is fetched twice and "Refresh now" (the API, ?fresh=1) does not refresh what the page shows.',
    );
  }
  keyResult(
    `cold status ${coldCalls} AWS calls; warm refresh ${sum(warmPages.calls) + sum(warmApi.calls)} calls (target 0; first API read after a page load ${sum(firstApi.calls)}); ` +
      `${VIEWERS} viewers at once ${sum(pageHerd.calls)} calls = ${(sum(pageHerd.calls) / coldCalls).toFixed(2)} × one cold load (target 1.00); ` +
      `fresh diagnosis ${sum(diagnosis.calls)} calls ÷ budget ${sum(budget)} = ${(sum(diagnosis.calls) / sum(budget)).toFixed(2)} (target ≤ 1.00, each API within its own)`,
  );
});

async function get(app: BenchConsole, path: string, auth: { cookie?: string; bearer?: string }): Promise<{ status: number; ms: number }> {
  const headers: Record<string, string> = {};
  if (auth.cookie) headers.cookie = auth.cookie;
  if (auth.bearer) headers.authorization = auth.bearer;
  const { value, ms: took } = await timed(async () => {
    const res = await fetch(`${app.url}${path}`, { headers, redirect: 'manual', signal: AbortSignal.timeout(60_000) });
    await res.arrayBuffer();
    return res.status;
  });
  return { status: value, ms: took };
}

/** Runs the requests (all at once, or one after another) between two readings of the lab's counters. */
async function measure(lab: BenchLab, requests: Array<() => Promise<{ status: number; ms: number }>>, oneAfterAnother = false) {
  await lab.resetCounters();
  let results: Array<{ status: number; ms: number }> = [];
  if (oneAfterAnother) for (const request of requests) results.push(await request());
  else results = await Promise.all(requests.map((request) => request()));
  const calls = await lab.consoleCalls();
  const times = results.map((r) => r.ms);
  return { requests: results.length, ok: results.filter((r) => r.status === 200).length, calls, p50: percentile(times, 50), max: Math.max(...times) };
}
