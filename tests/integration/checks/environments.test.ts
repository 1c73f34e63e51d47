import { readFileSync } from 'node:fs';
import { DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_CONSOLE_ROLE_NAME } from '@/infra/aws/lab-console-role';
import type { RunCommandRecord } from '@/infra/lab/contract';
import type { Caller } from '@/lib/roles';
import type { CheckResult, EnvironmentStatus } from '@/lib/checks/types';
import { setConfigForTests } from '@/lib/config/load';
import { listEnvironmentStatuses } from '@/lib/status';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// Three environments of one account and region (the lab's LAB_ENVIRONMENTS=3), their statuses
// started together as the home page and the watcher start them: one call per AWS API for all three
// where the API allows it, one Run Command for all their backends, and still each environment its own
// result. What is wrong with one of them (a parameter gone, a read the console's role is denied) is
// that environment's alone. The console runs as its least-privilege role, enforced.

const VIEWER: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const ADMIN = { accessKeyId: 'LABBATCHTEST', secretAccessKey: 'lab-not-a-secret' };
let lab: TestLab;
let iam: IAMClient;

beforeAll(async () => {
  lab = await startTestLab({ environments: 3 });
  setConfigForTests(JSON.parse(readFileSync(lab.configPath, 'utf8')));
  iam = new IAMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: ADMIN, maxAttempts: 1 });
});
afterAll(() => iam?.destroy());

const NAMES = ['production', 'production-2', 'production-3'];
const check = (s: EnvironmentStatus, id: string): CheckResult => s.checks.find((c) => c.id === id)!;
const notPassing = (s: EnvironmentStatus) => s.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status}`);

/** Every environment's status, fresh, as the home page asks for them; by name. */
async function homePage(): Promise<Record<string, EnvironmentStatus>> {
  return Object.fromEntries((await listEnvironmentStatuses(VIEWER, { fresh: true })).map((s) => [s.environment, s]));
}

async function consoleCalls<T>(work: () => Promise<T>): Promise<{ value: T; calls: Record<string, number> }> {
  await labApi(lab, 'DELETE', '/_lab/requests');
  const value = await work();
  const counts = (await labApi<{ byService: Record<string, Record<string, number>> }>(lab, 'GET', '/_lab/requests')).body.byService;
  return { value, calls: Object.fromEntries(Object.entries(counts).flatMap(([service, actions]) => Object.entries(actions).map(([a, n]) => [`${service}:${a}`, n]))) };
}

describe('three environments of one account', () => {
  it('cost one call per API for all three, one Run Command reaching their four backends, and keep their results apart', async () => {
    await homePage(); // the first status of the process knows no instances yet
    const history = async () => (await labApi<{ commands: RunCommandRecord[] }>(lab, 'GET', '/_lab/run-command/history')).body.commands;
    const historyBefore = (await history()).length;
    const { value: statuses, calls } = await consoleCalls(homePage);
    for (const name of NAMES) expect(notPassing(statuses[name]!), name).toEqual([]);

    const { 'ssm:ListCommandInvocations': polls, ...rest } = calls;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(rest).toEqual({
      // 12 names without decryption (10 a call: two calls), and the three passwords decrypted in one
      'ssm:GetParameters': 3,
      // one filtered call for the 15 names, in two pages: moto answers 10 a page whatever MaxResults says (AWS: up to 50)
      'ssm:DescribeParameters': 2,
      'rds:DescribeDBInstances': 1,
      'ec2:DescribeSecurityGroups': 1,
      'ec2:DescribeInstances': 1,
      'ec2:DescribeSubnets': 1,
      'ec2:DescribeNetworkAcls': 1,
      'ec2:DescribeNetworkInterfaces': 1,
      'ssm:SendCommand': 1,
    });
    const commands = (await history()).slice(historyBefore);
    expect(commands).toHaveLength(1);
    expect([...commands[0]!.instanceIds].sort()).toEqual(lab.environments.flatMap((e) => e.instances.map((i) => i.id)).sort());

    // Each environment's own instances, database user and endpoint.
    for (const [i, name] of NAMES.entries()) {
      const e = lab.environments[i]!;
      const containers = check(statuses[name]!, 'containers.running').evidence;
      expect(Object.keys(containers).filter((k) => k.startsWith('i-')).map((k) => k.split(' ')[0]).sort(), name).toEqual(e.instances.map((x) => x.id).sort());
      expect(String(check(statuses[name]!, 'db.login').evidence.target), name).toContain(`${e.rds.masterUsername}@`);
      expect(check(statuses[name]!, 'rds.endpoint-match').status).toBe('pass');
    }
  });

  it('a parameter gone from one environment fails that environment\'s ssm.parameters alone', async () => {
    const e = lab.environments[2]!;
    await cli(['ssm', 'delete-parameter', '--name', `${e.parameterPrefix}/db-name`]);
    try {
      const statuses = await homePage();
      expect(check(statuses['production-3']!, 'ssm.parameters')).toMatchObject({ status: 'fail' });
      expect(check(statuses['production-3']!, 'ssm.parameters').summary).toContain('db-name');
      expect(statuses['production-3']!.rootCause).toBe('ssm.parameters');
      expect(notPassing(statuses.production!)).toEqual([]);
      expect(notPassing(statuses['production-2']!)).toEqual([]);
    } finally {
      await cli(['ssm', 'put-parameter', '--name', `${e.parameterPrefix}/db-name`, '--type', 'String', '--value', e.rds.dbName, '--overwrite']);
    }
  });

  it('a read the console\'s role is denied for one environment makes that one "could not check", never the others', async () => {
    const e = lab.environments[1]!;
    const deny = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ssm:GetParameters', Resource: `arn:aws:ssm:${lab.region}:*:parameter${e.parameterPrefix}/*` }] };
    await iam.send(new PutRolePolicyCommand({ RoleName: LAB_CONSOLE_ROLE_NAME, PolicyName: 'deny-production-2-parameters', PolicyDocument: JSON.stringify(deny) }));
    try {
      const { value: statuses, calls } = await consoleCalls(homePage);
      const denied = statuses['production-2']!;
      expect(check(denied, 'ssm.parameters')).toMatchObject({ status: 'error', evidence: { reason: 'denied' } });
      expect(check(denied, 'db.login').status).toBe('error');
      expect(denied.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(denied.rootCause).toBeNull();
      expect(notPassing(statuses.production!)).toEqual([]);
      expect(notPassing(statuses['production-3']!)).toEqual([]);
      // The shared calls were refused, then each environment was asked alone.
      expect(calls['ssm:GetParameters']).toBeGreaterThan(3);
    } finally {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: LAB_CONSOLE_ROLE_NAME, PolicyName: 'deny-production-2-parameters' }));
    }
  });
});

async function cli(args: string[]): Promise<void> {
  const out = await awsCli(lab, args);
  if (out.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${out.stderr.trim().slice(0, 300)}`);
}
