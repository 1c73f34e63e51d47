import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, GetParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FaultRule, LabState } from '@/infra/lab/contract';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// Fault switches and request counters on /_lab/, seen through the AWS SDK and the AWS CLI.

interface Counts {
  total: number;
  byService: Record<string, Record<string, number>>;
  byCaller: Record<string, { total: number; byService: Record<string, Record<string, number>> }>;
}

let lab: TestLab;
const clientConfig = (accessKeyId = 'testing', maxAttempts = 3) => ({
  region: 'us-east-1',
  endpoint: lab.awsEndpoint,
  credentials: { accessKeyId, secretAccessKey: 'testing' },
  maxAttempts,
});
const NAMES = ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((n) => `/linkbox/${n}`);

beforeAll(async () => {
  lab = await startTestLab();
});
afterEach(async () => {
  await labApi(lab, 'POST', '/_lab/reset');
  await labApi(lab, 'DELETE', '/_lab/requests');
});

type NewFaultRule = FaultRule extends infer R ? (R extends FaultRule ? Omit<R, 'id'> & { id?: string } : never) : never;

const addFault = async (rule: NewFaultRule) => {
  const res = await labApi<FaultRule>(lab, 'POST', '/_lab/faults', rule);
  expect(res.status).toBe(201);
  return res.body;
};
const counts = async () => (await labApi<Counts>(lab, 'GET', '/_lab/requests')).body;

describe('throttling faults', () => {
  it('at 30% are absorbed by the SDK retries, and every attempt is counted', async () => {
    await addFault({ kind: 'error', service: 'ssm', action: 'GetParameter', error: 'ThrottlingException', probability: 0.3 });
    const ssm = new SSMClient(clientConfig('THIRTY', 10));
    const replies = await Promise.all(Array.from({ length: 40 }, () => ssm.send(new GetParameterCommand({ Name: '/linkbox/db-name' }))));
    ssm.destroy();
    expect(replies.every((r) => r.Parameter?.Value === 'linkbox')).toBe(true);
    const attempts = replies.reduce((sum, r) => sum + (r.$metadata.attempts ?? 1), 0);
    expect(attempts).toBeGreaterThan(40); // some calls were throttled and retried
    const after = await counts();
    expect(after.byService.ssm?.GetParameter).toBe(attempts);
    expect(after.byCaller.THIRTY?.total).toBe(attempts);
  });

  it('at 100% surface as ThrottlingException after the SDK gives up', async () => {
    await addFault({ kind: 'error', service: 'ssm', error: 'ThrottlingException', probability: 1 });
    const ssm = new SSMClient(clientConfig('HUNDRED', 3));
    const error = await ssm.send(new GetParametersCommand({ Names: NAMES })).catch((e: unknown) => e as Error & { $metadata: { attempts?: number } });
    ssm.destroy();
    expect(error).toMatchObject({ name: 'ThrottlingException' });
    expect((error as { $metadata: { attempts?: number } }).$metadata.attempts).toBe(3);
    expect((await counts()).byCaller.HUNDRED?.byService).toEqual({ ssm: { GetParameters: 3 } });
  });

  it('speak each query service\'s own dialect: Throttling for RDS, RequestLimitExceeded for EC2', async () => {
    await addFault({ kind: 'error', service: 'rds', error: 'ThrottlingException', probability: 1 });
    await addFault({ kind: 'error', service: 'ec2', error: 'ThrottlingException', probability: 1 });
    const rds = new RDSClient(clientConfig('testing', 1));
    const ec2 = new EC2Client(clientConfig('testing', 1));
    await expect(rds.send(new DescribeDBInstancesCommand({}))).rejects.toMatchObject({ name: 'Throttling' });
    await expect(ec2.send(new DescribeSecurityGroupsCommand({}))).rejects.toMatchObject({ name: 'RequestLimitExceeded' });
    rds.destroy();
    ec2.destroy();
    const cli = await awsCli(lab, ['rds', 'describe-db-instances'], { AWS_MAX_ATTEMPTS: '1' });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('(Throttling)');
  });

  it('only hit the action they name', async () => {
    await addFault({ kind: 'error', service: 'ssm', action: 'GetParameters', error: 'AccessDeniedException', probability: 1 });
    const ssm = new SSMClient(clientConfig('testing', 1));
    await expect(ssm.send(new GetParametersCommand({ Names: NAMES }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    expect((await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-name' }))).Parameter?.Value).toBe('linkbox');
    ssm.destroy();
  });

  it('can answer HTTP 500, which the SDK reports as a server fault', async () => {
    await addFault({ kind: 'error', service: 'ssm', error: 'InternalError', probability: 1 });
    const ssm = new SSMClient(clientConfig('testing', 1));
    await expect(ssm.send(new GetParameterCommand({ Name: '/linkbox/db-name' }))).rejects.toMatchObject({ $fault: 'server', $metadata: { httpStatusCode: 500 } });
    ssm.destroy();
  });
});

describe('the KMS-denied fault', () => {
  it('denies decrypting SecureStrings and encrypting new ones, naming the KMS permission, and leaves plain reads alone', async () => {
    await addFault({ kind: 'kms-denied' });
    const ssm = new SSMClient(clientConfig('testing', 1));
    await expect(ssm.send(new GetParameterCommand({ Name: '/linkbox/db-password', WithDecryption: true }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('kms:Decrypt'),
    });
    await expect(ssm.send(new GetParametersCommand({ Names: NAMES, WithDecryption: true }))).rejects.toMatchObject({ name: 'AccessDeniedException' });
    await expect(ssm.send(new PutParameterCommand({ Name: '/linkbox/db-password-pending', Type: 'SecureString', Value: 'Pending-pass-0001' }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining('kms:Encrypt'),
    });
    expect((await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-password' }))).Parameter?.Type).toBe('SecureString');
    expect((await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-endpoint', WithDecryption: true }))).Parameter?.Value).toBe(lab.rds.endpointAddress);
    ssm.destroy();

    const cli = await awsCli(lab, ['ssm', 'get-parameter', '--name', '/linkbox/db-password', '--with-decryption'], { AWS_MAX_ATTEMPTS: '1' });
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('AccessDeniedException');
  });
});

describe('the request counters', () => {
  it('count calls by service, action and caller until they are zeroed', async () => {
    const a = new SSMClient(clientConfig('CALLER_A'));
    const b = new EC2Client(clientConfig('CALLER_B'));
    await a.send(new GetParametersCommand({ Names: NAMES }));
    await a.send(new GetParametersCommand({ Names: NAMES }));
    await b.send(new DescribeSecurityGroupsCommand({}));
    a.destroy();
    b.destroy();
    const seen = await counts();
    expect(seen.byCaller.CALLER_A).toEqual({ total: 2, byService: { ssm: { GetParameters: 2 } } });
    expect(seen.byCaller.CALLER_B).toEqual({ total: 1, byService: { ec2: { DescribeSecurityGroups: 1 } } });
    expect(seen.byService.ssm?.GetParameters).toBe(2);
    expect(seen.total).toBeGreaterThanOrEqual(3);

    expect((await labApi<Counts>(lab, 'DELETE', '/_lab/requests')).body).toMatchObject({ total: 0, byService: {}, byCaller: {} });
  });
});

describe('the /_lab/ control API', () => {
  it('stores a rule without an id under a generated one, lists it, and deletes it by id', async () => {
    const rule = await addFault({ kind: 'latency', service: 'ssm', ms: 1 });
    expect(rule).toMatchObject({ kind: 'latency', service: 'ssm', ms: 1, id: expect.any(String) });
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([rule]);
    expect((await labApi(lab, 'DELETE', `/_lab/faults/${rule.id}`)).status).toBe(200);
    expect((await labApi(lab, 'DELETE', `/_lab/faults/${rule.id}`)).status).toBe(404);
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([]);
  });

  it('clears every rule with DELETE /_lab/faults and with POST /_lab/reset', async () => {
    await addFault({ kind: 'kms-denied' });
    await labApi(lab, 'DELETE', '/_lab/faults');
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([]);
    await addFault({ kind: 'container', instanceId: lab.instances[0]!.id, mode: 'unhealthy' });
    await labApi(lab, 'POST', '/_lab/reset');
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([]);
  });

  it.each([
    ['an unknown fault kind', { kind: 'earthquake' }, /kind/],
    ['a probability above 1', { kind: 'error', service: 'ssm', error: 'ThrottlingException', probability: 1.5 }, /probability/],
    ['a probability that is not a number', { kind: 'error', service: 'ssm', error: 'ThrottlingException', probability: 'often' }, /probability/],
    ['an unknown service', { kind: 'error', service: 's3', error: 'ThrottlingException', probability: 1 }, /service/],
    ['an unknown error code', { kind: 'error', service: 'ssm', error: 'Boom', probability: 1 }, /error/],
    ['an unknown instance id', { kind: 'container', instanceId: 'i-00000000000000000', mode: 'crashed' }, /i-00000000000000000/],
    ['an unknown field', { kind: 'kms-denied', severity: 'high' }, /severity/],
    ['malformed JSON', '{"kind": "latency",', /JSON/],
  ])('refuses %s with 400 and the reason', async (_what, body, reason) => {
    const res = await labApi<{ error: string }>(lab, 'POST', '/_lab/faults', body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(reason);
    expect((await labApi<{ faults: FaultRule[] }>(lab, 'GET', '/_lab/faults')).body.faults).toEqual([]);
  });

  it('answers an unknown /_lab/ path with 404', async () => {
    const res = await labApi<{ error: string }>(lab, 'GET', '/_lab/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body.error).toContain('/_lab/nothing-here');
  });

  it('gives the lab\'s addresses on /_lab/state', async () => {
    const { status, body } = await labApi<LabState>(lab, 'GET', '/_lab/state');
    expect(status).toBe(200);
    expect(body).toMatchObject({ awsEndpoint: lab.awsEndpoint, region: 'us-east-1', db: lab.db, rds: lab.rds, parameterPrefix: '/linkbox', configPath: lab.configPath });
    expect(body.instances.map((i) => i.id)).toEqual(lab.instances.map((i) => i.id));
    expect(body.local.databaseUrl).toMatch(/^postgresql:\/\/linkbox_user:linkbox_password@127\.0\.0\.1:\d+\/linkbox_dev$/);
  });
});
