import { readFile, stat } from 'node:fs/promises';
import net from 'node:net';
import tls from 'node:tls';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleConfigSchema } from '@/lib/config/schema';
import { startRogueListener, type RogueListener } from '@/infra/lab/network/rogue-postgres';
import { awsCli, eventually, labApi, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// The RDS endpoint as production has it: DescribeDBInstances reports an address that really takes
// connections (a loopback address of the lab's own, on 5432), SSM db-endpoint holds the same, and
// PostgreSQL serves TLS there with a certificate from a CA the lab made at start. The console,
// inside the VPC, is admitted by a security group of its own. And a rogue PostgreSQL shows what a
// client that does not verify TLS gives away.

let lab: TestLab;
let ca: string;
let password: string;
let ssm: SSMClient;

beforeAll(async () => {
  lab = await startTestLab();
  ca = await readFile(lab.tlsCaPath, 'utf8');
  ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' } });
  password = (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-password`, WithDecryption: true }))).Parameter!.Value!;
});
afterAll(() => ssm?.destroy());

/** Logs in and reports whether the session is encrypted, or the error's code. */
async function login(target: { host: string; port: number }, ssl: pg.ClientConfig['ssl'], secret = password): Promise<{ ok: true; ssl: boolean } | { ok: false; code: string; message: string }> {
  const client = new pg.Client({ ...target, user: lab.rds.masterUsername, password: secret, database: lab.rds.dbName, ssl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return { ok: true, ssl: rows[0]!.ssl };
  } catch (err) {
    const e = err as Error & { code?: string };
    return { ok: false, code: e.code ?? '', message: e.message };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The certificate PostgreSQL presents (SSLRequest, then a TLS handshake), as a client sees it. */
async function servedCertificate(target: { host: string; port: number }, servername: string): Promise<tls.PeerCertificate> {
  const socket = net.connect(target.port, target.host);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  const answer = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  expect(answer.toString()).toBe('S');
  // An IP address is checked as the host (TLS sends no IP server name).
  const secure = tls.connect({ socket, ca, ...(net.isIP(servername) ? { host: servername } : { servername }), rejectUnauthorized: true });
  await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
  const certificate = secure.getPeerCertificate();
  secure.destroy();
  return certificate;
}

async function groupId(name: string): Promise<string> {
  const out = await awsCli(lab, ['ec2', 'describe-security-groups', '--filters', `Name=group-name,Values=${name}`, '--query', 'SecurityGroups[0].GroupId', '--output', 'text']);
  expect(out.code, out.stderr).toBe(0);
  return out.stdout.trim();
}

async function healthStatuses(): Promise<number[]> {
  return Promise.all(lab.instances.map(async (i) => (await fetch(i.healthUrl, { signal: AbortSignal.timeout(8000) })).status));
}

describe('the RDS endpoint', () => {
  it('is reported by DescribeDBInstances as a loopback address of this lab\'s own on 5432, the same as SSM db-endpoint and /_lab/state', async () => {
    const described = await awsCli(lab, ['rds', 'describe-db-instances', '--db-instance-identifier', lab.rds.instanceId, '--query', 'DBInstances[0].Endpoint']);
    expect(described.code, described.stderr).toBe(0);
    expect(described.json).toMatchObject({ Address: lab.rdsEndpoint.host, Port: lab.rdsEndpoint.port });
    expect(lab.rdsEndpoint.host).toMatch(/^127\.(?!0\.0\.1$)\d+\.\d+\.\d+$/);
    expect(lab.rdsEndpoint.port).toBe(5432);
    expect(lab.rds.endpointAddress).toBe(lab.rdsEndpoint.host);
    expect(lab.rds.dnsName).toBe(`${lab.rds.instanceId}.aaaaaaaaaa.${lab.region}.rds.amazonaws.com`);
    expect((await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-endpoint` }))).Parameter?.Value).toBe(lab.rdsEndpoint.host);
    const { body } = await labApi<Record<string, unknown>>(lab, 'GET', '/_lab/state');
    expect(body).toMatchObject({ rdsEndpoint: lab.rdsEndpoint, tlsCaPath: lab.tlsCaPath, rds: { dnsName: lab.rds.dnsName } });
  });

  it('takes a login over verified TLS with the SSM credentials there, and still takes plaintext', async () => {
    expect(await login(lab.rdsEndpoint, { ca, rejectUnauthorized: true })).toEqual({ ok: true, ssl: true });
    expect(await login(lab.rdsEndpoint, false)).toEqual({ ok: true, ssl: false });
    expect(await login(lab.rdsEndpoint, { ca, rejectUnauthorized: true }, 'not-the-password')).toMatchObject({ ok: false, code: '28P01' });
  });

  it('serves a certificate from the lab CA for the reported address and the RDS-style name, so through the tunnel TLS verifies only with that name', async () => {
    const certificate = await servedCertificate(lab.rdsEndpoint, lab.rdsEndpoint.host);
    expect(certificate.subjectaltname).toBe(`IP Address:${lab.rdsEndpoint.host}, DNS:${lab.rds.dnsName}`);
    expect(certificate.issuer.CN).toMatch(/^LinkBox lab CA /);

    expect(await login(lab.db, { ca, servername: lab.rds.dnsName, rejectUnauthorized: true })).toEqual({ ok: true, ssl: true });
    expect(await login(lab.db, { ca, rejectUnauthorized: true })).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(await login(lab.db, false)).toEqual({ ok: true, ssl: false });
  });

  it('keeps the lab CA and the keys in the data dir, made at start: the CA file is a certificate only, the keys are owner-only', async () => {
    expect(ca).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(ca).not.toMatch(/PRIVATE KEY/);
    expect((await stat(lab.tlsCaKeyPath)).mode & 0o777).toBe(0o600);
    expect(lab.tlsCaPath.startsWith(lab.configPath.replace(/console\.config\.json$/, ''))).toBe(true);
  });

  it('can be used by a console config without reachVia, which the console\'s schema accepts', async () => {
    const written = JSON.parse(await readFile(lab.configPath, 'utf8')) as { environments: Array<Record<string, unknown>> };
    const production = written.environments.find((e) => e.name === 'production')!;
    expect(production.reachVia).toEqual(lab.db);
    delete production.reachVia;
    production.dbPort = lab.rdsEndpoint.port;
    expect(consoleConfigSchema.safeParse(written).success).toBe(true);
  });
});

describe('the console\'s own security group', () => {
  it('admits the console at the endpoint: revoking it cuts the console off and leaves the backends healthy; the backends\' rule does not matter to it', async () => {
    const dbSg = await groupId('linkbox-db-sg');
    const consoleRule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', await groupId('linkbox-ops-console-sg')];
    const backendRule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', await groupId('linkbox-backend-sg')];
    const atEndpoint = () => tryDbLogin(lab, password, { route: lab.rdsEndpoint, noAnswerAfterMs: 1500 });
    expect(await atEndpoint()).toBe('ok');

    expect((await awsCli(lab, ['ec2', 'revoke-security-group-ingress', ...consoleRule])).code).toBe(0);
    await eventually(async () => ((await atEndpoint()) === 'no-answer' ? true : undefined), 'the console cut off');
    expect(await healthStatuses()).toEqual([200, 200]);
    expect(await tryDbLogin(lab, password)).toBe('ok');
    expect((await awsCli(lab, ['ec2', 'authorize-security-group-ingress', ...consoleRule])).code).toBe(0);
    await eventually(async () => ((await atEndpoint()) === 'ok' ? true : undefined), 'the console admitted again');

    expect((await awsCli(lab, ['ec2', 'revoke-security-group-ingress', ...backendRule])).code).toBe(0);
    await eventually(async () => ((await tryDbLogin(lab, password, { noAnswerAfterMs: 1500 })) === 'no-answer' ? true : undefined), 'the tunnel cut off');
    expect(await atEndpoint()).toBe('ok');
    expect((await awsCli(lab, ['ec2', 'authorize-security-group-ingress', ...backendRule])).code).toBe(0);
    await eventually(async () => ((await tryDbLogin(lab, password)) === 'ok' ? true : undefined), 'the tunnel admitted again');
  });
});

describe('a rogue PostgreSQL listener', () => {
  const started: RogueListener[] = [];
  afterAll(async () => {
    for (const rogue of started) await rogue.stop();
  });
  const rogue = async (mode: 'cleartext-password' | 'other-ca-tls' | 'wrong-name-tls') => {
    const listener = await startRogueListener({ mode, labCa: { certPath: lab.tlsCaPath, keyPath: lab.tlsCaKeyPath } });
    started.push(listener);
    return listener;
  };

  it('asking for a cleartext password gets it from node-pg without TLS; a client requiring TLS never sends it', async () => {
    const listener = await rogue('cleartext-password');
    // On its own loopback address and the console's dbPort, so an SSM db-endpoint String could name it.
    expect(listener.host).toMatch(/^127\./);
    expect(listener.port).toBe(5432);
    expect(await login(listener, false)).toMatchObject({ ok: false, code: '28P01' });
    expect(listener.received).toEqual([{ user: lab.rds.masterUsername, database: lab.rds.dbName, parameters: expect.objectContaining({ user: lab.rds.masterUsername }), password, tls: false }]);

    expect(await login(listener, { ca, rejectUnauthorized: true })).toMatchObject({ ok: false, message: 'The server does not support SSL connections' });
    expect(listener.received).toHaveLength(1);
  });

  it('with a certificate from another CA is refused by node-pg verifying against the lab CA, before any password', async () => {
    const listener = await rogue('other-ca-tls');
    expect(await login(listener, { ca, rejectUnauthorized: true })).toMatchObject({ ok: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(listener.connections()).toBe(1);
    expect(listener.received).toEqual([]);
    // A client that does not verify hands the password over TLS all the same.
    expect(await login(listener, { rejectUnauthorized: false })).toMatchObject({ ok: false, code: '28P01' });
    expect(listener.received).toEqual([expect.objectContaining({ password, tls: true })]);
  });

  it('with a lab-CA certificate for another name is refused on the host name, before any password', async () => {
    const listener = await rogue('wrong-name-tls');
    expect(await login(listener, { ca, rejectUnauthorized: true })).toMatchObject({ ok: false, code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(listener.received).toEqual([]);
  });
});
