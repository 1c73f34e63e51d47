// Benchmark 5, diagnosis time: faults of the fault matrix, each caused as in life, then the time to
// a named root cause — the console's diagnosis (its answer once the root cause is certain) against
// the slowest chain of AWS calls that proof needs, made alone, and against the seed's checklist for
// the symptom the backends show, its commands typed one by one with the AWS CLI v2 until one output
// names the cause (then, if none did, the seed's own connectivity test with psql). The operator's
// reading time is not counted: the manual figures are a lower bound.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { ListCommandInvocationsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { awsClients } from '../lib/aws/clients';
import type { CheckId } from '../lib/checks/types';
import { getEnvironment } from '../lib/config/load';
import type { AwsEnvironmentConfig } from '../lib/config/schema';
import { diagnoseEnvironment, openDiagnosis } from '../lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '../lib/status';
import type { Diagnosis } from '../lib/runbooks/types';
import { awsCli, awsCliOk, type CliRun } from './support/aws-cli';
import { pointConsoleAt, viewer } from './support/in-process';
import { LATENCY_MS, NO_FRESH_LIMITS, startBenchLab, type BenchLab } from './support/lab';
import { keyResult, median, ms, ratio, seconds, table, timed, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const CONSOLE_RUNS = 3;
const PROOF_RUNS = 5;

type Checklist = 'could-not-connect' | 'authentication-failed';

interface Fault {
  name: string;
  expected: CheckId;
  /** The seed's checklist for what the backends show with this fault. */
  checklist: Checklist;
  /**
   * The slowest chain of AWS calls the proof needs: the root cause's own reads, or a longer chain a
   * step before it in dependency order needs to answer (made alone, it is the floor of the answer).
   */
  proof: Proof;
  cause(lab: BenchLab, saved: Saved): Promise<void>;
  restore(lab: BenchLab, saved: Saved): Promise<void>;
}

type Proof = 'DescribeSecurityGroups' | 'DescribeDBInstances' | 'SendCommand → ListCommandInvocations';

interface Saved {
  dbSg: string;
  backendSg: string;
  username: string;
  password: string;
}

const FAULTS: Fault[] = [
  {
    name: 'aws ec2 revoke-security-group-ingress (backend group, 5432)',
    expected: 'sg.backend-ingress',
    checklist: 'could-not-connect',
    proof: 'DescribeSecurityGroups',
    cause: async (lab, s) => void (await awsCliOk(lab, ['ec2', 'revoke-security-group-ingress', '--group-id', s.dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', s.backendSg])),
    restore: async (lab, s) => void (await awsCliOk(lab, ['ec2', 'authorize-security-group-ingress', '--group-id', s.dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', s.backendSg])),
  },
  {
    name: 'aws ssm put-parameter db-username "linkbox_admin"',
    expected: 'rds.username-match',
    checklist: 'authentication-failed',
    proof: 'DescribeDBInstances',
    cause: async (lab) => void (await awsCliOk(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-username`, '--type', 'String', '--value', 'linkbox_admin', '--overwrite'])),
    restore: async (lab, s) => void (await awsCliOk(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-username`, '--type', 'String', '--value', s.username, '--overwrite'])),
  },
  {
    name: 'psql: ALTER ROLE ... PASSWORD (SSM unchanged)',
    expected: 'db.login',
    checklist: 'authentication-failed',
    // backend.tcp comes before db.login: the backends' nc through Run Command.
    proof: 'SendCommand → ListCommandInvocations',
    cause: (lab, s) => psql(lab, s.username, s.password, `ALTER ROLE ${s.username} PASSWORD '${s.password}-x'`),
    restore: (lab, s) => psql(lab, s.username, `${s.password}-x`, `ALTER ROLE ${s.username} PASSWORD '${s.password}'`),
  },
  {
    name: 'aws rds stop-db-instance',
    expected: 'rds.status',
    checklist: 'could-not-connect',
    proof: 'DescribeDBInstances',
    cause: async (lab) => void (await awsCliOk(lab, ['rds', 'stop-db-instance', '--db-instance-identifier', lab.rds.instanceId])),
    restore: async (lab) => {
      await awsCliOk(lab, ['rds', 'start-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
      await until(async () => {
        const out = await awsCliOk(lab, ['rds', 'describe-db-instances', '--db-instance-identifier', lab.rds.instanceId]);
        return (out.json as { DBInstances: Array<{ DBInstanceStatus: string }> }).DBInstances[0]!.DBInstanceStatus === 'available';
      }, 60_000);
    },
  },
  {
    name: 'aws ssm put-parameter db-endpoint (an old instance\'s address)',
    expected: 'rds.endpoint-match',
    checklist: 'could-not-connect',
    proof: 'DescribeDBInstances',
    cause: async (lab) =>
      void (await awsCliOk(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-endpoint`, '--type', 'String', '--value', lab.rds.endpointAddress.replace(/^[^.]+/, 'linkbox-db-old'), '--overwrite'])),
    restore: async (lab) =>
      void (await awsCliOk(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-endpoint`, '--type', 'String', '--value', lab.rds.endpointAddress, '--overwrite'])),
  },
];

interface Row {
  fault: string;
  expected: CheckId;
  console: { named: CheckId | null; ms: number; everyStepMs: number; pendingAtAnswer: number };
  proof: { chain: Proof; ms: number };
  manual: ManualRun;
}

runBenchmark(async () => {
  title('Diagnosis time', [
    `AWS latency ${LATENCY_MS} ms a call. Console: a fresh diagnosis of production (median of ${CONSOLE_RUNS}), after the fault has taken effect.`,
    "Manual: the seed's checklist for the backends' symptom, each command typed as soon as the last returned, stopping at the first output that names the cause.",
  ]);
  const lab = await startBenchLab('diagnosis-time', { consoleConfig: NO_FRESH_LIMITS });
  pointConsoleAt(lab);
  await lab.setLatency(LATENCY_MS);
  const saved: Saved = {
    dbSg: await groupId(lab, '*linkbox-db-sg*'),
    backendSg: await groupId(lab, '*linkbox-backend-sg*'),
    username: await parameter(lab, 'db-username'),
    password: await parameter(lab, 'db-password', true),
  };
  const env = getEnvironment('production');
  if (env.kind !== 'aws') throw new Error('the lab config has no AWS environment "production"');
  const diagnose = () => diagnoseEnvironment(viewer, 'production', { fresh: true });
  const healthy = await until(async () => ((await diagnose()).verdict === 'healthy' ? true : undefined), 60_000);
  if (!healthy) throw new Error('the lab did not diagnose as healthy before the first fault');

  const rows: Row[] = [];
  for (const fault of FAULTS) {
    await fault.cause(lab, saved);
    try {
      // The lab's physics catch up first (the DB network re-reads groups every second): not timed.
      await until(async () => ((await diagnose()).rootCause === fault.expected ? true : undefined), 45_000);
      const runs: Array<{ d: Diagnosis; ms: number; everyStepMs: number }> = [];
      for (let i = 0; i < CONSOLE_RUNS; i++) {
        const started = performance.now();
        const run = openDiagnosis(viewer, 'production', { fresh: true });
        const d = await run.certain;
        const answered = performance.now() - started;
        // The rest stream in after the answer; the next run starts once they and the status they
        // read have settled (a fresh diagnosis joins a status still being put together).
        await run.complete;
        await getEnvironmentStatus(viewer, 'production');
        runs.push({ d, ms: answered, everyStepMs: performance.now() - started });
      }
      const proofMs = await timeProof(lab, env, fault.proof);
      const manual = await runChecklist(lab, fault.checklist, saved);
      const last = runs[runs.length - 1]!.d;
      rows.push({
        fault: fault.name,
        expected: fault.expected,
        console: { named: last.rootCause, ms: median(runs.map((r) => r.ms)), everyStepMs: median(runs.map((r) => r.everyStepMs)), pendingAtAnswer: last.pending.length },
        proof: { chain: fault.proof, ms: proofMs },
        manual,
      });
    } finally {
      await fault.restore(lab, saved);
      await until(async () => ((await diagnose()).verdict === 'healthy' ? true : undefined), 90_000);
    }
  }

  table(
    ['fault (caused as in life)', 'expected', 'console names', 'console answers', 'steps still running then', 'every step', 'proof chain alone', 'console ÷ chain', 'manual checklist', 'manual names', 'commands', 'manual', 'manual ÷ console'],
    rows.map((r) => [
      r.fault,
      r.expected,
      r.console.named ?? 'nothing',
      ms(r.console.ms),
      r.console.pendingAtAnswer,
      ms(r.console.everyStepMs),
      `${r.proof.chain} ${ms(r.proof.ms)}`,
      ratio(r.console.ms / r.proof.ms),
      r.manual.checklist,
      r.manual.named ?? 'nothing',
      r.manual.steps.length,
      seconds(r.manual.ms),
      r.manual.named ? ratio(r.manual.ms / r.console.ms) : 'n/a',
    ]),
  );
  for (const r of rows) {
    console.log('');
    console.log(`${r.fault}:`);
    for (const s of r.manual.steps) console.log(`  ${ms(s.ms).padStart(8)}  ${s.what}${s.finding ? ` → ${s.finding}` : ''}`);
  }
  const consoleRight = rows.filter((r) => r.console.named === r.expected).length;
  const manualRight = rows.filter((r) => r.manual.named === r.expected);
  const ratios = manualRight.map((r) => r.manual.ms / r.console.ms);
  const chains = rows.map((r) => r.console.ms / r.proof.ms);
  keyResult(
    `console named ${consoleRight}/${rows.length} root causes (median ${ms(median(rows.map((r) => r.console.ms)))}); console ÷ its proof's chain: worst ${ratio(Math.max(...chains))} (${chains.map(ratio).join(', ')}; target ≤ 2); ` +
      `the seed's checklists named ${manualRight.length}/${rows.length}; manual ÷ console where both named it: worst ${ratio(Math.min(...ratios))} (${ratios.map(ratio).join(', ')}; target ≥ 5)`,
  );
});

// ---- the proof's chain, alone ----

/** The chain made alone with the console's own SDK clients, median of PROOF_RUNS: the floor for an answer that needs it. */
async function timeProof(lab: BenchLab, env: AwsEnvironmentConfig, proof: Proof): Promise<number> {
  const { ec2, rds, ssm } = awsClients(env);
  const chain: Record<Proof, () => Promise<unknown>> = {
    DescribeSecurityGroups: () => ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:Name', Values: ['linkbox-db-sg'] }] })),
    DescribeDBInstances: () => rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: lab.rds.instanceId })),
    'SendCommand → ListCommandInvocations': async () => {
      const instanceId = lab.instances[0]!.id;
      const sent = await ssm.send(new SendCommandCommand({ InstanceIds: [instanceId], DocumentName: 'AWS-RunShellScript', Parameters: { commands: ['true'] } }));
      for (;;) {
        const out = await ssm.send(new ListCommandInvocationsCommand({ CommandId: sent.Command!.CommandId!, Details: true })).catch(() => undefined);
        const status = out?.CommandInvocations?.[0]?.Status;
        if (status && !['Pending', 'InProgress', 'Delayed'].includes(status)) return;
        await sleep(10);
      }
    },
  };
  const samples: number[] = [];
  for (let i = 0; i < PROOF_RUNS; i++) samples.push((await timed(chain[proof])).ms);
  return median(samples);
}

// ---- the manual peer ----

interface ManualStep {
  what: string;
  ms: number;
  finding?: string;
}
interface ManualRun {
  checklist: Checklist;
  steps: ManualStep[];
  named: CheckId | null;
  ms: number;
}

/**
 * The checklist as the seed writes it; each step reads its output the way the seed says to
 * ("Should show ingress from backend security group on port 5432", "match RDS") and names a cause
 * only when that output shows one. Passwords are read but never printed.
 */
async function runChecklist(lab: BenchLab, checklist: Checklist, saved: Saved): Promise<ManualRun> {
  const steps: ManualStep[] = [];
  const started = performance.now();
  const p = lab.parameterPrefix;
  const cli = async (what: string, args: string[]): Promise<CliRun> => {
    const run = await awsCli(lab, args);
    steps.push({ what, ms: run.ms });
    return run;
  };
  const found = (finding: string) => void (steps[steps.length - 1]!.finding = finding);
  const done = (named: CheckId | null): ManualRun => ({ checklist, steps, named, ms: performance.now() - started });
  const value = (run: CliRun) => (run.json as { Parameter?: { Value?: string } } | undefined)?.Parameter?.Value;

  let endpoint: string | undefined;
  let user: string | undefined;
  let password: string | undefined;
  if (checklist === 'could-not-connect') {
    const groups = await cli('aws ec2 describe-security-groups --filters Name=tag:Name,Values=*linkbox-db-sg*', ['ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*']);
    if (!admitsBackend(groups, saved.backendSg)) {
      found('no ingress from the backend security group on 5432');
      return done('sg.backend-ingress');
    }
    const e = await cli('aws ssm get-parameter --name /linkbox/db-endpoint', ['ssm', 'get-parameter', '--name', `${p}/db-endpoint`]);
    endpoint = value(e);
    if (!endpoint) {
      found('ParameterNotFound');
      return done('ssm.parameters');
    }
    const pw = await cli('aws ssm get-parameter --name /linkbox/db-password --with-decryption', ['ssm', 'get-parameter', '--name', `${p}/db-password`, '--with-decryption']);
    password = value(pw);
    if (!password) {
      found('ParameterNotFound');
      return done('ssm.parameters');
    }
    const nc = await ncFromInstance(lab, steps, endpoint);
    found(nc);
    // An endpoint that does not resolve says db-endpoint is wrong, to anyone reading nc's answer.
    if (nc.includes('Name or service not known')) return done('rds.endpoint-match');
    // The seed's last step ("Check IAM permissions") gives no command to run.
  } else {
    const u = await cli('aws ssm get-parameter --name /linkbox/db-username', ['ssm', 'get-parameter', '--name', `${p}/db-username`]);
    user = value(u);
    const pw = await cli('aws ssm get-parameter --name /linkbox/db-password --with-decryption', ['ssm', 'get-parameter', '--name', `${p}/db-password`, '--with-decryption']);
    password = value(pw);
    const master = await cli("aws rds describe-db-instances --db-instance-identifier linkbox-db --query 'DBInstances[0].MasterUsername'", [
      'rds',
      'describe-db-instances',
      '--db-instance-identifier',
      lab.rds.instanceId,
      '--query',
      'DBInstances[0].MasterUsername',
    ]);
    if (master.json !== user) {
      found(`MasterUsername ${JSON.stringify(master.json)} ≠ SSM ${JSON.stringify(user)}`);
      return done('rds.username-match');
    }
    found('matches SSM');
  }

  // Nothing named yet: the seed's "Testing Connectivity" login with what SSM holds.
  if (!user) user = value(await cli('aws ssm get-parameter --name /linkbox/db-username', ['ssm', 'get-parameter', '--name', `${p}/db-username`]));
  const t = performance.now();
  const login = await psqlLogin(lab, user ?? '', password ?? '');
  steps.push({ what: "psql -c 'SELECT version();' with the SSM credentials", ms: performance.now() - t, finding: login });
  if (login.includes('password authentication failed')) return done('db.login');
  return done(null);
}

function admitsBackend(groups: CliRun, backendSg: string): boolean {
  const out = groups.json as { SecurityGroups?: Array<{ IpPermissions?: Array<{ FromPort?: number; ToPort?: number; UserIdGroupPairs?: Array<{ GroupId?: string }> }> }> } | undefined;
  return (out?.SecurityGroups ?? []).some((g) =>
    (g.IpPermissions ?? []).some((r) => (r.FromPort ?? 0) <= 5432 && 5432 <= (r.ToPort ?? 65535) && (r.UserIdGroupPairs ?? []).some((pair) => pair.GroupId === backendSg)),
  );
}

/** The seed's "nc -zv <db-endpoint> 5432" from the instance, through Run Command (its start-session stand-in). */
async function ncFromInstance(lab: BenchLab, steps: ManualStep[], endpoint: string): Promise<string> {
  const instanceId = lab.instances[0]!.id;
  const started = performance.now();
  const sent = await awsCliOk(lab, ['ssm', 'send-command', '--instance-ids', instanceId, '--document-name', 'AWS-RunShellScript', '--parameters', JSON.stringify({ commands: [`nc -zv ${endpoint} 5432`] })]);
  const commandId = (sent.json as { Command: { CommandId: string } }).Command.CommandId;
  let out: { Status?: string; StandardErrorContent?: string; StandardOutputContent?: string } = {};
  for (let i = 0; i < 30 && ['Pending', 'InProgress', 'Delayed', undefined].includes(out.Status); i++) {
    out = ((await awsCli(lab, ['ssm', 'get-command-invocation', '--command-id', commandId, '--instance-id', instanceId])).json ?? {}) as typeof out;
  }
  steps.push({ what: 'nc -zv <db-endpoint> 5432 on an instance (send-command, get-command-invocation)', ms: performance.now() - started });
  const text = `${out.StandardOutputContent ?? ''}${out.StandardErrorContent ?? ''}`.trim().split('\n')[0] ?? '';
  return text.replace(/^nc: /, '') || `exit status ${out.Status}`;
}

function psqlLogin(lab: BenchLab, user: string, password: string): Promise<string> {
  return new Promise((done) => {
    execFile(
      'psql',
      ['-h', lab.db.host, '-p', String(lab.db.port), '-U', user, '-d', lab.rds.dbName, '-qAtc', 'SELECT version();'],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }, timeout: 20_000, encoding: 'utf8' },
      (err, _stdout, stderr) => {
        if (!err) return done('logged in');
        const line = stderr.split(password).join('****').trim().split('\n').pop() ?? '';
        done(line.replace(/^psql: (error: )?/, '').slice(0, 120));
      },
    );
  });
}

function psql(lab: BenchLab, user: string, password: string, sql: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      'psql',
      ['-h', lab.db.host, '-p', String(lab.db.port), '-U', user, '-d', lab.rds.dbName, '-v', 'ON_ERROR_STOP=1', '-qc', sql],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000, encoding: 'utf8' },
      (err, _stdout, stderr) => (err ? fail(new Error(`psql failed: ${stderr.split(password).join('****').trim().slice(0, 200)}`)) : done()),
    );
  });
}

async function groupId(lab: BenchLab, pattern: string): Promise<string> {
  const out = await awsCliOk(lab, ['ec2', 'describe-security-groups', '--filters', `Name=tag:Name,Values=${pattern}`]);
  return (out.json as { SecurityGroups: Array<{ GroupId: string }> }).SecurityGroups[0]!.GroupId;
}

async function parameter(lab: BenchLab, name: string, decrypt = false): Promise<string> {
  const out = await awsCliOk(lab, ['ssm', 'get-parameter', '--name', `${lab.parameterPrefix}/${name}`, ...(decrypt ? ['--with-decryption'] : [])]);
  return (out.json as { Parameter: { Value: string } }).Parameter.Value;
}

/** Polls until `probe` gives a value (not undefined) or the time is up; returns the value or undefined. */
async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, 500));
  }
}
