import { GetCommandInvocationCommand, GetParameterCommand, SendCommandCommand, SSMClient, type GetCommandInvocationCommandOutput } from '@aws-sdk/client-ssm';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInstanceState } from '@/infra/lab/contract';
import { awsCli, eventually, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// The backend reads DATABASE_URL as the real one does (Pydantic's AnyUrl, then SQLAlchemy), so a
// password that RDS and SSM agree on can still fail for the backend alone, while a login with the
// four values as separate fields (as the console makes it) succeeds. Each case is caused the way an
// operator would: put-parameter with the CLI, ALTER ROLE in the database, start_application.sh.

const START_SCRIPT = '/opt/codedeploy-agent/deployment-root/d-LAB/deployment-archive/scripts/start_application.sh';

let lab: TestLab;
let ssm: SSMClient;
let admin: pg.Client;
let backend: LabInstanceState;

beforeAll(async () => {
  lab = await startTestLab();
  ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' } });
  const password = (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-password`, WithDecryption: true }))).Parameter!.Value!;
  // One session for the whole file: it outlives every password change below.
  admin = new pg.Client({ ...lab.db, user: lab.rds.masterUsername, password, database: lab.rds.dbName });
  admin.on('error', () => undefined);
  await admin.connect();
  backend = lab.instances[0]!;
});
afterAll(async () => {
  await admin?.end().catch(() => undefined);
  ssm?.destroy();
});

/** RDS and SSM agree on `password`: the parameter is overwritten with the CLI and the role altered in the database. */
async function agreeOn(password: string): Promise<void> {
  const put = await awsCli(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-password`, '--type', 'SecureString', '--value', password, '--overwrite']);
  expect(put.code, put.stderr).toBe(0);
  await admin.query(`ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${password.replaceAll("'", "''")}'`);
}

async function startApplication(): Promise<GetCommandInvocationCommandOutput> {
  const sent = await ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [backend.id], Parameters: { commands: [`sudo ${START_SCRIPT}`] } }));
  return eventually(async () => {
    const out = await ssm.send(new GetCommandInvocationCommand({ CommandId: sent.Command!.CommandId!, InstanceId: backend.id }));
    return out.Status === 'Success' || out.Status === 'Failed' ? out : undefined;
  }, 'start_application.sh to finish', 90_000);
}

async function health(): Promise<{ status: number; error?: string } | 'unreachable'> {
  try {
    const res = await fetch(backend.healthUrl, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, error: ((await res.json()) as { error?: string }).error };
  } catch {
    return 'unreachable';
  }
}

/** Nothing the lab shows or logs may hold the password or a recognisable piece of it. */
function expectNoTraceOf(password: string, ...texts: string[]): void {
  const pieces = [password, ...password.split(/[%#@/?:]/).filter((p) => p.length >= 6)];
  for (const text of [...texts, lab.logLines.join('\n')]) for (const piece of pieces) expect(text).not.toContain(piece);
}

describe('a password the backend reads differently from RDS', () => {
  it('%41 in the password: RDS and SSM agree, the console\'s login works, the backend sends "A" and is refused', async () => {
    const password = `Lab15-abc%41-${randomBytes(6).toString('hex')}`;
    await agreeOn(password);
    const out = await startApplication();
    expect(out.Status, out.StandardErrorContent).toBe('Success');

    const h = await health();
    expect(h).toMatchObject({ status: 503 });
    expect(h !== 'unreachable' && h.error).toMatch(/password authentication failed for user "linkbox"/);
    // The four values as separate fields, as the console logs in, are what RDS holds.
    expect(await tryDbLogin(lab, password)).toBe('ok');
    expect(await tryDbLogin(lab, password.replace('%41', 'A'))).toBe('auth-failed');
    expectNoTraceOf(password, JSON.stringify(h), JSON.stringify(out));
  });

  it('# in the password: Pydantic rejects DATABASE_URL and the app dies at start-up, naming the reason but not the password', async () => {
    const password = `Lab15-ab#cd-${randomBytes(6).toString('hex')}`;
    await agreeOn(password);
    const out = await startApplication();
    expect(out.Status).toBe('Failed');
    expect(out.StandardErrorContent).toContain('Input should be a valid URL, invalid port number');
    expect(await health()).toBe('unreachable');
    const container = lab.instances.find((i) => i.id === backend.id)!.container;
    expect(container).toMatchObject({ status: 'exited', exitCode: 1 });
    expect(container.error).toContain('1 validation error for Settings: database_url');
    expect(await tryDbLogin(lab, password)).toBe('ok');
    expectNoTraceOf(password, JSON.stringify(out), JSON.stringify(container));
  });

  it('@ in the password: psql $DATABASE_URL would break on it, but the backend\'s parsers repair it and log in', async () => {
    const password = `Lab15-pa@ss-${randomBytes(6).toString('hex')}`;
    await agreeOn(password);
    const out = await startApplication();
    expect(out.Status, out.StandardErrorContent).toBe('Success');
    expect(await health()).toEqual({ status: 200, error: undefined });
    expectNoTraceOf(password, JSON.stringify(out));
  });
});
