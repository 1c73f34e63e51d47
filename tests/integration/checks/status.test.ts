import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '@/lib/roles';
import type { CheckId, CheckResult, EnvironmentStatus } from '@/lib/checks/types';
import { getEnvironment, setConfigForTests } from '@/lib/config/load';
import { backendRestartLines } from '@/lib/aws/run-command';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { getEnvironmentStatus, listEnvironmentStatuses } from '@/lib/status';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// Every check against the lab: healthy first, then each fault caused the way it happens in life
// (the AWS CLI, psql, the lab's fault switches for what only the lab can do), diagnosed, and undone.

const VIEWER: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
let lab: TestLab;

beforeAll(async () => {
  lab = await startTestLab();
  setConfigForTests(JSON.parse(readFileSync(lab.configPath, 'utf8')));
});

const production = () => getEnvironmentStatus(VIEWER, 'production', { fresh: true });
const local = () => getEnvironmentStatus(VIEWER, 'local', { fresh: true });
const check = (s: EnvironmentStatus, id: CheckId): CheckResult => s.checks.find((c) => c.id === id)!;
const notPassing = (s: EnvironmentStatus) => s.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status} — ${c.summary}`);

/** A child's whole environment: only what it needs, nothing of ours. */
const childEnv = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

async function cli(args: string[]): Promise<unknown> {
  const out = await awsCli(lab, args);
  if (out.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${out.stderr.trim().slice(0, 300)}`);
  return out.json;
}

/** Status until `done` holds: the DB network and RDS physics follow the EC2/RDS APIs a moment later. */
async function statusUntil(done: (s: EnvironmentStatus) => boolean, what: string, tries = 60): Promise<EnvironmentStatus> {
  let last: EnvironmentStatus | undefined;
  for (let i = 0; i < tries; i++) {
    last = await production();
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`never saw ${what}; last: ${JSON.stringify(notPassing(last!))}`);
}

async function groupId(name: string): Promise<string> {
  const out = (await cli(['ec2', 'describe-security-groups', '--filters', `Name=tag:Name,Values=${name}`])) as { SecurityGroups: Array<{ GroupId: string }> };
  return out.SecurityGroups[0]!.GroupId;
}

async function parameter(name: string, decrypt = false): Promise<string> {
  const out = (await cli(['ssm', 'get-parameter', '--name', `${lab.parameterPrefix}/${name}`, ...(decrypt ? ['--with-decryption'] : [])])) as { Parameter: { Value: string } };
  return out.Parameter.Value;
}

async function putParameter(name: string, value: string, type: 'String' | 'SecureString' = 'String'): Promise<void> {
  await cli(['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/${name}`, '--type', type, '--value', value, '--overwrite']);
}

function psql(user: string, password: string, sql: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      'psql',
      ['-h', lab.db.host, '-p', String(lab.db.port), '-U', user, '-d', lab.rds.dbName, '-v', 'ON_ERROR_STOP=1', '-qc', sql],
      { env: childEnv({ PATH: process.env.PATH ?? '/usr/bin:/bin', PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }), timeout: 30_000 },
      (err, _stdout, stderr) => (err ? fail(new Error(`psql failed: ${stderr.split(password).join('****').trim().slice(0, 300)}`)) : done()),
    );
  });
}

function productionConfig() {
  const env = getEnvironment('production');
  if (env.kind !== 'aws') throw new Error('production is an aws environment in the lab');
  return env;
}

async function restartBackends(instanceIds: string[]): Promise<void> {
  const sent = (await cli(['ssm', 'send-command', '--instance-ids', ...instanceIds, '--document-name', 'AWS-RunShellScript', '--parameters', JSON.stringify({ commands: backendRestartLines(productionConfig()) })])) as {
    Command: { CommandId: string };
  };
  for (const id of instanceIds) {
    for (let i = 0; i < 120; i++) {
      const out = await awsCli(lab, ['ssm', 'get-command-invocation', '--command-id', sent.Command.CommandId, '--instance-id', id]);
      const status = (out.json as { Status?: string } | undefined)?.Status ?? 'Pending';
      if (!['Pending', 'InProgress', 'Delayed'].includes(status)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

describe('the healthy lab', () => {
  it('passes every check for production', async () => {
    const s = await production();
    expect(notPassing(s)).toEqual([]);
    expect(s.checks).toHaveLength(17);
    expect(s).toMatchObject({ overall: 'healthy', rootCause: null });
    // Each backend as the checks saw it, for the path picture.
    expect(s.backends?.map((b) => [b.state, b.container, b.path])).toEqual([
      ['running', 'running', 'open'],
      ['running', 'running', 'open'],
    ]);
  });

  it('passes every check for local', async () => {
    const s = await local();
    expect(notPassing(s)).toEqual([]);
    expect(s.checks.map((c) => c.id).sort()).toEqual(['containers.health', 'local.database-url']);
  });

  it('costs at most one call per AWS API for a status, and none within the TTL', async () => {
    await labApi(lab, 'DELETE', '/_lab/requests');
    const [first] = await Promise.all([getEnvironmentStatus(VIEWER, 'production', { fresh: true }), getEnvironmentStatus(VIEWER, 'production', { fresh: true })]);
    expect(first.overall).toBe('healthy');
    const counts = (await labApi<{ byService: Record<string, Record<string, number>> }>(lab, 'GET', '/_lab/requests')).body.byService;
    // GetParameters twice: the four names without decryption, and db-password decrypted for the login
    // (apart, so a KMS refusal costs only the login); the answers of the Run Command are polled.
    const { ListCommandInvocations: polls, GetParameters: parameterReads, ...ssmCalls } = counts.ssm ?? {};
    expect(parameterReads).toBe(2);
    expect(polls).toBeGreaterThanOrEqual(1);
    for (const [service, actions] of Object.entries({ ...counts, ssm: ssmCalls })) {
      for (const [action, n] of Object.entries(actions)) expect(n, `${service}:${action}`).toBe(1);
    }
    await labApi(lab, 'DELETE', '/_lab/requests');
    await listEnvironmentStatuses(VIEWER);
    expect((await labApi<{ total: number }>(lab, 'GET', '/_lab/requests')).body.total).toBe(0);
  });

  it('costs a fresh diagnosis only the status calls and the runbook-only ones, with one Run Command for inspection and nc', async () => {
    await labApi(lab, 'DELETE', '/_lab/requests');
    const diagnosis = await diagnoseEnvironment(VIEWER, 'production', { fresh: true });
    expect(diagnosis.verdict, JSON.stringify(diagnosis.steps.filter((s) => s.status !== 'pass'))).toBe('healthy');
    const counts = (await labApi<{ byService: Record<string, Record<string, number>> }>(lab, 'GET', '/_lab/requests')).body.byService;
    const calls = Object.fromEntries(Object.entries(counts).flatMap(([service, actions]) => Object.entries(actions).map(([a, n]) => [`${service}:${a}`, n])));
    // Every instance's answer in one listing per poll.
    const { 'ssm:ListCommandInvocations': polls, ...rest } = calls;
    expect(polls).toBeGreaterThanOrEqual(1);
    expect(rest).toEqual({
      // the status: each API once, the four parameters and (decrypted, apart) the password for the login
      'ssm:GetParameters': 2,
      'ssm:DescribeParameters': 1,
      'rds:DescribeDBInstances': 1,
      'ec2:DescribeSecurityGroups': 1,
      'ec2:DescribeInstances': 1,
      // each backend's own path: the VPC's subnets, network ACLs and RDS's interface
      'ec2:DescribeSubnets': 1,
      'ec2:DescribeNetworkAcls': 1,
      'ec2:DescribeNetworkInterfaces': 1,
      'ssm:SendCommand': 1,
      // the runbook-only steps: the instance role (one profile, one simulation of all its actions), the agents
      'iam:GetInstanceProfile': 1,
      'iam:SimulatePrincipalPolicy': 1,
      'ssm:DescribeInstanceInformation': 1,
    });
  });

  it('never puts the database password in a status', async () => {
    const password = await parameter('db-password', true);
    const all = await listEnvironmentStatuses(VIEWER, { fresh: true });
    expect(JSON.stringify(all)).not.toContain(password);
    expect(JSON.stringify(all)).not.toContain('linkbox_password');
  });
});

/** Runs a check's fix exactly as an operator would paste it into a shell (with the Debian CLI v2 as `aws`). */
function runFix(s: EnvironmentStatus, id: CheckId): Promise<void> {
  const commands = check(s, id).fix?.commands ?? [];
  expect(commands.length, `${id} has a fix command`).toBeGreaterThan(0);
  const script = ['set -e', 'aws() { /usr/bin/aws "$@"; }', ...commands].join('\n');
  return new Promise((done, fail) => {
    execFile(
      'bash',
      ['-c', script],
      {
        env: childEnv({
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/tmp',
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        }),
        timeout: 60_000,
      },
      (err, _stdout, stderr) => (err ? fail(new Error(`the fix for ${id} failed: ${stderr.trim().slice(0, 400)}`)) : done()),
    );
  });
}

const healthy = (s: EnvironmentStatus) => s.overall === 'healthy';

describe('each fault, caused as in life, is diagnosed', () => {
  it('revoked backend ingress fails sg.backend-ingress as root cause, TCP times out, and the fix restores it', async () => {
    const dbSg = await groupId('linkbox-db-sg');
    const backendSg = await groupId('linkbox-backend-sg');
    // By rule id, as the console's EC2 page does it (moto matches --source-group only with the seeded rule's description).
    const rules = (await cli(['ec2', 'describe-security-group-rules', '--filters', `Name=group-id,Values=${dbSg}`])) as {
      SecurityGroupRules: Array<{ SecurityGroupRuleId: string; IsEgress: boolean; ReferencedGroupInfo?: { GroupId?: string } }>;
    };
    const ruleIds = rules.SecurityGroupRules.filter((r) => !r.IsEgress && r.ReferencedGroupInfo?.GroupId === backendSg).map((r) => r.SecurityGroupRuleId);
    expect(ruleIds.length).toBeGreaterThan(0);
    await cli(['ec2', 'revoke-security-group-ingress', '--group-id', dbSg, '--security-group-rule-ids', ...ruleIds]);
    const s = await statusUntil((x) => check(x, 'net.tcp').status === 'fail', 'the tunnel blocked');
    expect(check(s, 'sg.backend-ingress').status).toBe('fail');
    expect(check(s, 'net.tcp').summary).toMatch(/^Timed out/);
    expect(check(s, 'db.login').status).toBe('skip');
    expect(s.rootCause).toBe('sg.backend-ingress');
    expect(s.backends?.map((b) => b.path)).toEqual(['dropped', 'dropped']);
    await runFix(s, 'sg.backend-ingress');
    await statusUntil(healthy, 'healthy after the fix');
  });

  it('0.0.0.0/0 on the DB port fails sg.no-public-ingress, and its revoke command closes it', async () => {
    const dbSg = await groupId('linkbox-db-sg');
    await cli(['ec2', 'authorize-security-group-ingress', '--group-id', dbSg, '--protocol', 'tcp', '--port', String(lab.rds.port), '--cidr', '0.0.0.0/0']);
    const s = await production();
    expect(check(s, 'sg.no-public-ingress').status).toBe('fail');
    expect(s.rootCause).toBe('sg.no-public-ingress');
    await runFix(s, 'sg.no-public-ingress');
    expect((await production()).overall).toBe('healthy');
  });

  it('a wrong db-endpoint in SSM fails rds.endpoint-match as root cause', async () => {
    const endpoint = await parameter('db-endpoint');
    await putParameter('db-endpoint', 'linkbox-db-old.cluster.example.internal');
    try {
      const s = await production();
      expect(check(s, 'rds.endpoint-match')).toMatchObject({ status: 'fail', evidence: { rdsEndpoint: endpoint } });
      expect(s.rootCause).toBe('rds.endpoint-match');
      await runFix(s, 'rds.endpoint-match');
      expect(await parameter('db-endpoint')).toBe(endpoint);
    } finally {
      await putParameter('db-endpoint', endpoint);
    }
  });

  it('a wrong db-username in SSM fails rds.username-match as root cause (and the login with it)', async () => {
    await putParameter('db-username', 'linkbox_typo');
    try {
      const s = await production();
      expect(check(s, 'rds.username-match').status).toBe('fail');
      expect(check(s, 'db.login').status).toBe('fail');
      expect(s.rootCause).toBe('rds.username-match');
    } finally {
      await putParameter('db-username', lab.rds.masterUsername);
    }
    expect((await production()).overall).toBe('healthy');
  });

  it('ALTER ROLE behind SSM\'s back fails db.login as root cause', async () => {
    const current = await parameter('db-password', true);
    const other = 'Altered-Behind-SSMs-Back-42';
    await psql(lab.rds.masterUsername, current, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${other}'`);
    try {
      const s = await production();
      expect(check(s, 'db.login')).toMatchObject({ status: 'fail', evidence: { errorCode: '28P01' } });
      expect(s.rootCause).toBe('db.login');
      expect(JSON.stringify(s)).not.toContain(current);
      expect(JSON.stringify(s)).not.toContain(other);
    } finally {
      await psql(lab.rds.masterUsername, other, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${current}'`);
    }
    expect(check(await production(), 'db.login').status).toBe('pass');
  });

  it('a crashed container fails containers.running; an unhealthy one fails containers.health', async () => {
    const [first, second] = lab.instances;
    const crashed = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'container', instanceId: first!.id, mode: 'crashed' });
    try {
      const s = await statusUntil((x) => check(x, 'containers.running').status === 'fail', 'the crashed container');
      expect(check(s, 'containers.running').summary).toContain(first!.id);
      expect(s.rootCause).toBe('containers.running');
    } finally {
      await labApi(lab, 'DELETE', `/_lab/faults/${crashed.body.id}`);
    }
    await statusUntil(healthy, 'the crashed container back');
    const sick = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'container', instanceId: second!.id, mode: 'unhealthy' });
    try {
      const s = await statusUntil((x) => check(x, 'containers.health').summary.includes(`${second!.id} answered 503`), 'the unhealthy container');
      expect(check(s, 'containers.health').summary).toContain(`${second!.id} answered 503`);
      expect(s.rootCause).toBe('containers.health');
    } finally {
      await labApi(lab, 'DELETE', `/_lab/faults/${sick.body.id}`);
    }
    await statusUntil((x) => check(x, 'containers.running').status === 'pass' && check(x, 'containers.health').status === 'pass', 'the containers back');
  });

  it('KMS denying decryption makes db.login "could not check", not broken', async () => {
    const fault = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'kms-denied' });
    try {
      const s = await production();
      expect(check(s, 'db.login')).toMatchObject({ status: 'error', evidence: { reason: 'kms-denied' } });
      expect(s.checks.filter((c) => c.status === 'fail')).toEqual([]);
      expect(s.rootCause).toBeNull();
    } finally {
      await labApi(lab, 'DELETE', `/_lab/faults/${fault.body.id}`);
    }
  });

  it('a throttled RDS API makes the RDS checks error with the reason, never fail', async () => {
    const fault = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'error', service: 'rds', action: 'DescribeDBInstances', error: 'ThrottlingException', probability: 1 });
    try {
      const s = await production();
      expect(check(s, 'rds.status')).toMatchObject({ status: 'error', evidence: { reason: 'throttled' } });
      expect(s.checks.filter((c) => c.status === 'fail' || c.status === 'skip')).toEqual([]);
      expect(s.overall).toBe('degraded');
    } finally {
      await labApi(lab, 'DELETE', `/_lab/faults/${fault.body.id}`);
    }
  });

  it('a publicly accessible instance fails rds.private', async () => {
    await cli(['rds', 'modify-db-instance', '--db-instance-identifier', lab.rds.instanceId, '--publicly-accessible', '--apply-immediately']);
    const s = await statusUntil((x) => check(x, 'rds.private').status === 'fail', 'the instance public');
    expect(s.rootCause).toBe('rds.private');
    await runFix(s, 'rds.private');
    await statusUntil(healthy, 'healthy after making it private');
  });

  it('a stopped instance fails rds.status as root cause; TCP and login are skipped', async () => {
    await cli(['rds', 'stop-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
    const s = await statusUntil((x) => check(x, 'rds.status').status === 'fail', 'the instance stopped');
    expect(check(s, 'net.tcp').status).toBe('skip');
    expect(check(s, 'db.login').status).toBe('skip');
    expect(s.rootCause).toBe('rds.status');
    await runFix(s, 'rds.status');
    await statusUntil(healthy, 'healthy after starting it');
  });

  it('a String-typed password fails ssm.password-type; its fix rewrites the same value, which leaves the containers fresh', async () => {
    const current = await parameter('db-password', true);
    await putParameter('db-password', current, 'String');
    let s = await production();
    expect(check(s, 'ssm.password-type')).toMatchObject({ status: 'fail', evidence: { type: 'String' } });
    expect(s.rootCause).toBe('ssm.password-type');
    expect(JSON.stringify(s)).not.toContain(current);
    await runFix(s, 'ssm.password-type');
    s = await production();
    expect(notPassing(s)).toEqual([]);
    // Two versions newer than the containers, both with the value they started with.
    expect(check(s, 'containers.fresh-credentials').summary).toMatch(/started before version \d+ was written, but with the same value/);
  });

  it('a real change of the password fails containers.fresh-credentials until the backends restart', async () => {
    const current = await parameter('db-password', true);
    const changed = `Changed-${Date.now()}-Value`;
    // RDS and SSM agree on the new password, and stay so: only the containers lag behind.
    await psql(lab.rds.masterUsername, current, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${changed}'`);
    await putParameter('db-password', changed, 'SecureString');
    const s = await production();
    expect(check(s, 'db.login').status).toBe('pass');
    expect(check(s, 'containers.fresh-credentials').evidence).toMatchObject({ [`${lab.instances[0]!.id}.password`]: expect.stringMatching(/holds another value$/) });
    expect(s.rootCause).toBe('containers.fresh-credentials');
    expect(JSON.stringify(s)).not.toContain(changed);
    await restartBackends(lab.instances.map((i) => i.id));
    await statusUntil(healthy, 'healthy after the restart');
  });

  it('a wrong password in the local .env fails local.database-url, without echoing it', async () => {
    const original = (() => {
      try {
        return readFileSync(lab.local.envFile, 'utf8');
      } catch {
        return null;
      }
    })();
    const url = new URL(lab.local.databaseUrl);
    url.password = 'not-the-local-password';
    writeFileSync(lab.local.envFile, `DATABASE_URL=${url.toString()}\n`);
    try {
      const s = await local();
      expect(check(s, 'local.database-url').status).toBe('fail');
      expect(check(s, 'local.database-url').summary).toContain('Authentication failed');
      expect(s.rootCause).toBe('local.database-url');
      expect(JSON.stringify(s)).not.toContain('not-the-local-password');
    } finally {
      if (original === null) writeFileSync(lab.local.envFile, '');
      else writeFileSync(lab.local.envFile, original);
    }
    expect((await local()).overall).toBe('healthy');
  });
});
