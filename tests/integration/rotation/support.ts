import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import type { Caller } from '@/lib/roles';
import { closeStoreForTests } from '@/lib/store';
import { setConfigForTests } from '@/lib/config/load';
import { getRotation } from '@/lib/rotation';
import type { RotationView } from '@/lib/rotation/types';
import { labApi, startTestLab, type TestLab } from '../support/lab';

// What the rotation tests share: a lab, the console pointed at it with a store of its own, and the
// ways a test looks at the world from outside the console (SSM with decryption, a real login).

export const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };
export const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };

export interface RotationLab {
  lab: TestLab;
  configPath: string;
  sqlitePath: string;
}

export async function startRotationLab(opts: { resetSeconds?: number } = {}): Promise<RotationLab> {
  const lab = await startTestLab(opts.resetSeconds === undefined ? {} : { resetSeconds: opts.resetSeconds });
  const config = JSON.parse(readFileSync(lab.configPath, 'utf8'));
  setConfigForTests(config);
  process.env.LINKBOX_CONFIG = lab.configPath;
  const sqlitePath = join(lab.configPath, '..', 'console.sqlite');
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = sqlitePath;
  await closeStoreForTests();
  return { lab, configPath: lab.configPath, sqlitePath };
}

function ssm(lab: TestLab): SSMClient {
  return new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'TESTREADER', secretAccessKey: 'testing' } });
}

export interface SsmPasswords {
  current: { value: string; version: number } | null;
  pending: { value: string; version: number } | null;
}

/** Both slots in one call, so the pair is consistent. */
export async function storedPasswords(lab: TestLab): Promise<SsmPasswords> {
  const out = await ssm(lab).send(
    new GetParametersCommand({ Names: [`${lab.parameterPrefix}/db-password`, `${lab.parameterPrefix}/db-password-pending`], WithDecryption: true }),
  );
  const get = (name: string) => {
    const p = out.Parameters?.find((x) => x.Name === `${lab.parameterPrefix}/${name}`);
    return p?.Value !== undefined ? { value: p.Value, version: p.Version ?? 0 } : null;
  };
  return { current: get('db-password'), pending: get('db-password-pending') };
}

export async function logsIn(lab: TestLab, password: string): Promise<boolean> {
  return (await loginOutcome(lab, password)) === 'ok';
}

/** `ok`, `refused` (the server answered: wrong password), or what kept the server from answering. */
async function loginOutcome(lab: TestLab, password: string, timeoutMs = 5000): Promise<string> {
  const client = new pg.Client({
    host: lab.db.host,
    port: lab.db.port,
    user: lab.rds.masterUsername,
    database: lab.rds.dbName,
    password,
    connectionTimeoutMillis: timeoutMs,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    const e = err as Error & { code?: string };
    return e.code === '28P01' ? 'refused' : `no answer (${e.code ?? e.message})`;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function healthStatuses(lab: TestLab): Promise<number[]> {
  return Promise.all(
    lab.instances.map(async (i) => {
      try {
        const res = await fetch(i.healthUrl, { signal: AbortSignal.timeout(5000) });
        return res.status;
      } catch {
        return 0;
      }
    }),
  );
}

export async function requestCount(lab: TestLab, service: string, action: string): Promise<number> {
  const { body } = await labApi<{ byService: Record<string, Record<string, number>> }>(lab, 'GET', '/_lab/requests');
  return body.byService[service]?.[action] ?? 0;
}

export async function resetCounters(lab: TestLab): Promise<void> {
  await labApi(lab, 'DELETE', '/_lab/requests');
}

/** Polls the persisted view (as any replica would) until it satisfies `done`. */
export async function waitForRotation(environment: string, done: (view: RotationView) => boolean, timeoutMs = 100_000): Promise<RotationView> {
  const deadline = Date.now() + timeoutMs;
  let last: RotationView | null = null;
  while (Date.now() < deadline) {
    last = await getRotation(viewer, environment);
    if (last && done(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`rotation did not reach the expected state; last seen: ${JSON.stringify(last?.steps.map((s) => [s.name, s.status]))} ${last?.state} ${last?.error}`);
}

export const finished = (v: RotationView) => v.state === 'completed' || v.state === 'failed' || v.state === 'rolled-back';

// ---- console replicas as real processes ----

export interface Replica {
  proc: ChildProcess;
  events: Array<Record<string, unknown>>;
  output: string[];
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  waitFor(event: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  kill(): Promise<void>;
}

const replicaScript = fileURLToPath(new URL('./replica.ts', import.meta.url));

/**
 * A replica process. With `host`, it runs under a host name of its own (a UTS namespace, as a
 * replica on another machine or ECS task has): the lock then cannot tell it died from its pid, and
 * other replicas must wait for its lease to run out.
 */
export function spawnReplica(world: RotationLab, mode: 'start' | 'resume' | 'serve', env: Record<string, string> = {}, opts: { host?: string } = {}): Replica {
  const store: Record<string, string> = process.env.AUDIT_DATABASE_URL ? { AUDIT_DATABASE_URL: process.env.AUDIT_DATABASE_URL } : { AUDIT_SQLITE_PATH: world.sqlitePath };
  const node = [process.execPath, '--conditions=react-server', '--import', 'tsx', replicaScript, mode];
  // unshare execs sh, which execs node: the child's pid is the replica's, for SIGKILL.
  // Root may name a UTS namespace's host; anyone else needs a user namespace for that.
  const unshare = process.getuid?.() === 0 ? ['unshare', '--uts'] : ['unshare', '--uts', '--user', '--map-root-user'];
  const [command, ...args] = opts.host ? [...unshare, 'sh', '-c', 'hostname "$0" && exec "$@"', opts.host, ...node] : node;
  const proc = spawn(command!, args, {
    cwd: process.cwd(),
    env: { NODE_ENV: 'test', PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', LINKBOX_CONFIG: world.configPath, ...store, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const output: string[] = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    output.push(line);
    try {
      events.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of waiters.splice(0)) w();
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => output.push(line));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => {
    resolve(code);
    for (const w of waiters.splice(0)) w();
  }));
  const replica: Replica = {
    proc,
    events,
    output,
    exited,
    async waitFor(event, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => e.event === event);
        if (found) return found;
        if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`replica exited before "${event}":\n${output.join('\n')}`);
        if (Date.now() > deadline) throw new Error(`replica did not say "${event}" in time:\n${output.join('\n')}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
    },
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
    },
  };
  return replica;
}

/**
 * Checks, again and again until stopped, that a password stored in SSM (current or pending) logs in:
 * the promise a rotation makes at every moment, crash or not.
 *
 * RDS changes the password at one instant (ALTER ROLE), so two logins one after the other can
 * straddle the change: during a rollback, the current password is refused just before RDS takes it
 * back and the pending one just after. That, not a window, made "neither logs in" flaky under load.
 * So the first candidate is tried again after the others (with one change in between, one of the
 * three logins is made on the side of it where its password holds), and a login the server did not
 * answer is asked again with more time: only a refusal is evidence.
 */
export function watchStoredPasswordsLogIn(lab: TestLab): { stop(): Promise<{ checks: number; failures: string[] }> } {
  let running = true;
  let checks = 0;
  const failures: string[] = [];
  const answered = async (password: string): Promise<string> => {
    let outcome = await loginOutcome(lab, password);
    for (let retry = 0; retry < 2 && outcome.startsWith('no answer'); retry++) outcome = await loginOutcome(lab, password, 15_000);
    return outcome;
  };
  const loop = (async () => {
    while (running) {
      try {
        const { current, pending } = await storedPasswords(lab);
        const candidates = [current, pending].filter((p): p is NonNullable<typeof p> => p !== null);
        const seen: string[] = [];
        for (const c of [...candidates, ...candidates.slice(0, 1)]) {
          seen.push(await answered(c.value));
          if (seen.at(-1) === 'ok') break;
        }
        checks++;
        if (seen.at(-1) !== 'ok') failures.push(`${new Date().toISOString()}: neither db-password v${current?.version} nor pending v${pending?.version ?? '-'} logs in (${seen.join(', ')})`);
      } catch (err) {
        failures.push(`${new Date().toISOString()}: could not check (${(err as Error).message})`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { checks, failures };
    },
  };
}

/** RDS's own view of the instance, asked with the SDK (quicker to poll than the CLI). */
export async function rdsInstanceState(lab: TestLab): Promise<{ status: string; passwordPending: boolean }> {
  const rds = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'TESTREADER', secretAccessKey: 'testing' } });
  try {
    const db = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: lab.rds.instanceId }))).DBInstances![0]!;
    return { status: db.DBInstanceStatus ?? '', passwordPending: db.PendingModifiedValues?.MasterUserPassword !== undefined };
  } finally {
    rds.destroy();
  }
}

/** A copy of the lab's console config with production changed, for a replica started with it. */
export function writeConsoleConfigVariant(world: RotationLab, name: string, change: (production: Record<string, unknown>) => Record<string, unknown>): string {
  const config = JSON.parse(readFileSync(world.configPath, 'utf8')) as { environments: Array<Record<string, unknown>> };
  config.environments = config.environments.map((e) => (e.name === 'production' ? change(e) : e));
  const path = join(world.configPath, '..', `console.config.${name}.json`);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

export async function addFault(lab: TestLab, rule: Record<string, unknown>): Promise<string> {
  const { status, body } = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', rule);
  if (status !== 201) throw new Error(`the lab refused the fault ${JSON.stringify(rule)}: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function clearFaults(lab: TestLab): Promise<void> {
  await labApi(lab, 'POST', '/_lab/reset');
}

/**
 * Closes the audit store before the lab goes (the shared helper stops the lab and removes its data
 * dir after the file), since the store may live on the lab's PostgreSQL.
 */
export async function stopRotationLab(_world: RotationLab | undefined): Promise<void> {
  await closeStoreForTests();
}
