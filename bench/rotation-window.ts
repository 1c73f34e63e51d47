// Benchmark 4, the rotation window: while the password is rotated, a probe opens a new database
// connection every 100 ms for each backend, as the backend would — with the credentials it holds,
// i.e. what it read from SSM when its container last started — and asks its /health (which opens a
// fresh connection itself). Measured for the console's order (pending slot, RDS, verify, promote,
// rolling restart) and for the seed's order typed with the AWS CLI v2 (put-parameter,
// modify-db-instance, restart every container).
import { randomBytes } from 'node:crypto';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { getRotation, rotationWorkSettled, startRotation } from '../lib/rotation';
import { awsCli, awsCliOk } from './support/aws-cli';
import { operator, pointConsoleAt, viewer } from './support/in-process';
import { LATENCY_MS, startBenchLab, type BenchLab } from './support/lab';
import { keyResult, ms, seconds, table, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const PROBE_EVERY_MS = 100;
/**
 * How long RDS shows resetting-master-credentials before a new password works: the lab's default,
 * and a longer one nearer to a real instance's. The two orders trade places as it grows.
 */
const RESET_SECONDS = (process.env.BENCH_RDS_RESET_SECONDS ?? '4,20').split(',').map((v) => {
  const n = Number(v.trim());
  if (!Number.isInteger(n) || n < 0 || n > 600) throw new Error(`BENCH_RDS_RESET_SECONDS=${process.env.BENCH_RDS_RESET_SECONDS}: use whole seconds, comma-separated, e.g. "4,20"`);
  return n;
});
const SCRIPTS = '/opt/codedeploy-agent/deployment-root/linkbox-backend/current/scripts';

type Outcome = 'ok' | 'auth-failed' | 'refused' | 'other';
interface Tick {
  at: number;
  instance: string;
  /** A new connection with the credentials this backend holds. */
  connect: Outcome;
  /** The backend's own /health: 200, 503, or no answer (container down). */
  health: 'ok' | 'unhealthy' | 'down';
}

runBenchmark(async () => {
  title('Rotation window', [
    `A new DB connection per backend every ${PROBE_EVERY_MS} ms with the credentials it holds (read from SSM at its container's last start), and its /health.`,
    `AWS latency ${LATENCY_MS} ms a call; RDS applies a new master password ${RESET_SECONDS.join(' or ')} s after ModifyDBInstance (lab physics, a lab each).`,
  ]);
  const results: Array<{ resetSeconds: number; summaries: Summary[] }> = [];
  for (const resetSeconds of RESET_SECONDS) results.push({ resetSeconds, summaries: await compareOrders(resetSeconds) });

  table(
    ['RDS reset', 'order', 'procedure took', 'all healthy again after', 'auth failing (summed)', 'no backend could connect', '/health not 200 (summed)', 'no backend healthy'],
    results.flatMap(({ resetSeconds, summaries }) =>
      summaries.map((s) => [
        `${resetSeconds} s`,
        s.order,
        seconds(s.totalMs),
        seconds(Math.max(s.totalMs, s.lastFailureMs)),
        seconds(s.connectFailingMs),
        seconds(s.noneConnectMs),
        seconds(s.unhealthyMs),
        seconds(s.noneHealthyMs),
      ]),
    ),
  );
  console.log('');
  console.log('"procedure took": until the console finished, or the last seed command returned. "all healthy again": until the last failing probe.');
  console.log('"summed" adds up the backends\' failing time; "no backend" is the time all of them failed at once. /health also fails while a container restarts.');
  for (const { resetSeconds, summaries } of results) {
    for (const s of summaries) {
      console.log('');
      console.log(`[reset ${resetSeconds} s] ${s.order}: ${s.note}`);
      console.log(`  ${s.timeline}`);
    }
  }
  keyResult(
    results
      .map(({ resetSeconds, summaries: [ours, seed] }) =>
        `RDS reset ${resetSeconds} s: no backend could connect for console ${seconds(ours!.noneConnectMs)} vs seed ${seconds(seed!.noneConnectMs)} ` +
        `(auth failing ${seconds(ours!.connectFailingMs)} vs ${seconds(seed!.connectFailingMs)}), ` +
        `healthy again after ${seconds(Math.max(ours!.totalMs, ours!.lastFailureMs))} vs ${seconds(Math.max(seed!.totalMs, seed!.lastFailureMs))}`,
      )
      .join('; '),
  );
});

type Summary = Awaited<ReturnType<typeof probed>> & ReturnType<typeof windows>;

async function compareOrders(resetSeconds: number): Promise<Summary[]> {
  const lab = await startBenchLab(`rotation-window-${resetSeconds}s`, { resetSeconds });
  pointConsoleAt(lab);
  await lab.setLatency(LATENCY_MS);
  const runs: Array<Awaited<ReturnType<typeof probed>>> = [];

  await waitHealthy(lab);
  runs.push(
    await probed(lab, 'console: pending slot, RDS, verify, promote, rolling restart', async () => {
      const started = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
      if (!started.ok) throw new Error(`the console refused to rotate: ${started.error}`);
      await rotationWorkSettled('production');
      const view = await getRotation(viewer, 'production');
      if (view?.state !== 'completed') throw new Error(`the rotation ended ${view?.state}: ${view?.error}`);
      return view.steps.map((s) => `${s.name} ${s.startedAt && s.finishedAt ? ms(Date.parse(s.finishedAt) - Date.parse(s.startedAt)) : '-'}`).join(', ');
    }),
  );

  await waitHealthy(lab);
  runs.push(
    await probed(lab, 'seed: put-parameter, modify-db-instance, restart all (AWS CLI v2)', async () => {
      const password = randomBytes(24).toString('base64url');
      const p = `${lab.parameterPrefix}/db-password`;
      await awsCliOk(lab, ['ssm', 'put-parameter', '--name', p, '--type', 'SecureString', '--value', password, '--overwrite']);
      await awsCliOk(lab, ['rds', 'modify-db-instance', '--db-instance-identifier', lab.rds.instanceId, '--master-user-password', password, '--apply-immediately']);
      const ids = lab.instances.map((i) => i.id);
      const sent = await awsCliOk(lab, [
        'ssm',
        'send-command',
        '--instance-ids',
        ...ids,
        '--document-name',
        'AWS-RunShellScript',
        '--parameters',
        JSON.stringify({ commands: [`${SCRIPTS}/stop_application.sh`, `${SCRIPTS}/start_application.sh`] }),
      ]);
      const commandId = (sent.json as { Command: { CommandId: string } }).Command.CommandId;
      for (const id of ids) {
        for (let i = 0; i < 60; i++) {
          const inv = await awsCli(lab, ['ssm', 'get-command-invocation', '--command-id', commandId, '--instance-id', id]);
          const status = (inv.json as { Status?: string } | undefined)?.Status ?? 'Pending';
          if (!['Pending', 'InProgress', 'Delayed'].includes(status)) break;
        }
      }
      return 'put-parameter, modify-db-instance, send-command stop+start on every instance, get-command-invocation until done';
    }),
  );
  await lab.stop();
  return runs.map((r) => ({ ...r, ...windows(r.ticks, r.startedAt) }));
}

/** Runs the rotation while probing, and keeps probing until every backend has connected for 2 s in a row (at most 60 s). */
async function probed(lab: BenchLab, order: string, rotate: () => Promise<string>) {
  const probe = startProbe(lab);
  await new Promise((r) => setTimeout(r, 1000));
  const startedAt = performance.now();
  const note = await rotate();
  const totalMs = performance.now() - startedAt;
  const settleBy = performance.now() + 60_000;
  while (performance.now() < settleBy) {
    const recent = probe.ticks.filter((t) => t.at > performance.now() - 2000);
    if (recent.length >= 2 * lab.instances.length * 5 && recent.every((t) => t.connect === 'ok' && t.health === 'ok')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const ticks = await probe.stop();
  return { order, totalMs, ticks, startedAt, note };
}

function startProbe(lab: BenchLab): { ticks: Tick[]; stop(): Promise<Tick[]> } {
  const ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'BENCHPROBE', secretAccessKey: 'testing' } });
  const ticks: Tick[] = [];
  let running = true;
  const loops = lab.instances.map(async (instance) => {
    // What start_application.sh read when this container started: re-read whenever it starts anew.
    let seenStart: string | null = null;
    let held: { user: string; password: string; database: string } | null = null;
    while (running) {
      const tickStart = performance.now();
      const now = lab.instances.find((i) => i.id === instance.id)!;
      if (now.container.status === 'running' && now.container.startedAt !== seenStart) {
        held = await readCredentials(ssm, lab);
        seenStart = now.container.startedAt;
      }
      const [connect, health] = await Promise.all([
        now.container.status === 'running' && held ? connectAs(lab, held) : Promise.resolve<Outcome>('refused'),
        healthOf(now.healthUrl),
      ]);
      ticks.push({ at: tickStart, instance: instance.id, connect, health });
      const wait = PROBE_EVERY_MS - (performance.now() - tickStart);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  });
  return {
    ticks,
    async stop() {
      running = false;
      await Promise.all(loops);
      ssm.destroy();
      return ticks;
    },
  };
}

async function readCredentials(ssm: SSMClient, lab: BenchLab) {
  const get = async (name: string, decrypt = false) =>
    (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/${name}`, WithDecryption: decrypt }))).Parameter?.Value ?? '';
  const [user, password, database] = await Promise.all([get('db-username'), get('db-password', true), get('db-name')]);
  return { user, password, database };
}

async function connectAs(lab: BenchLab, held: { user: string; password: string; database: string }): Promise<Outcome> {
  const client = new pg.Client({ host: lab.db.host, port: lab.db.port, user: held.user, password: held.password, database: held.database, connectionTimeoutMillis: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '28P01') return 'auth-failed';
    if (code === 'ECONNREFUSED') return 'refused';
    return 'other';
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function healthOf(url: string): Promise<Tick['health']> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200 ? 'ok' : 'unhealthy';
  } catch {
    return 'down';
  }
}

async function waitHealthy(lab: BenchLab): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const all = await Promise.all(lab.instances.map((i) => healthOf(i.healthUrl)));
    if (all.every((h) => h === 'ok')) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('the backends did not become healthy within 60 s');
}

/** Failing time per kind, each tick counting until the next tick of the same backend. */
function windows(ticks: Tick[], startedAt: number) {
  const instances = [...new Set(ticks.map((t) => t.instance))];
  const sum = (pred: (t: Tick) => boolean) => {
    let total = 0;
    for (const id of instances) {
      const mine = ticks.filter((t) => t.instance === id).sort((a, b) => a.at - b.at);
      for (let i = 0; i + 1 < mine.length; i++) if (pred(mine[i]!)) total += mine[i + 1]!.at - mine[i]!.at;
    }
    return total;
  };
  // "All backends at once": per 100 ms slot, whether every backend's tick in it failed.
  const allAtOnce = (pred: (t: Tick) => boolean) => {
    const slots = new Map<number, Tick[]>();
    for (const t of ticks) {
      const slot = Math.floor(t.at / PROBE_EVERY_MS);
      slots.set(slot, [...(slots.get(slot) ?? []), t]);
    }
    let n = 0;
    for (const inSlot of slots.values()) if (new Set(inSlot.map((t) => t.instance)).size === instances.length && inSlot.every(pred)) n++;
    return n * PROBE_EVERY_MS;
  };
  const failing = (t: Tick) => t.connect !== 'ok';
  const unhealthy = (t: Tick) => t.health !== 'ok';
  // A compact story: when each kind of failure was first and last seen, from the start of the rotation.
  const spans = (['auth-failed', 'refused', 'other'] as const)
    .map((kind) => {
      const hits = ticks.filter((t) => t.connect === kind).map((t) => t.at - startedAt);
      return hits.length ? `${kind} ${seconds(Math.min(...hits))}–${seconds(Math.max(...hits))}` : null;
    })
    .filter(Boolean);
  const failures = ticks.filter((t) => failing(t) || unhealthy(t)).map((t) => t.at + PROBE_EVERY_MS - startedAt);
  return {
    lastFailureMs: failures.length ? Math.max(...failures) : 0,
    connectFailingMs: sum(failing),
    authFailedMs: sum((t) => t.connect === 'auth-failed'),
    noneConnectMs: allAtOnce(failing),
    unhealthyMs: sum(unhealthy),
    noneHealthyMs: allAtOnce(unhealthy),
    timeline: spans.length ? `new connections failed: ${spans.join('; ')} after the start` : 'no new connection failed',
  };
}
