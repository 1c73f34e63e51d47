import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import type { Caller } from '@/lib/auth/caller';
import { closeStoreForTests } from '@/lib/audit/store';
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
