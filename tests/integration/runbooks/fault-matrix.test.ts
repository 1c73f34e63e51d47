import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Caller } from '@/lib/roles';
import type { CheckId } from '@/lib/checks/types';
import { diagnoseEnvironment, openDiagnosis } from '@/lib/runbooks/diagnosis';
import type { Diagnosis, StepId } from '@/lib/runbooks/types';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// The fault matrix: each fault caused the way it happens in life (the AWS CLI v2, psql, the lab's
// fault API for what only AWS itself can do), then a fresh diagnosis of the lab's "production"
// environment must name the expected root cause. "Could not check" faults (throttling, a denied
// read, KMS) must name none and say the verdict is unknown: the console never calls them broken.
// One lab for the file; every row restores it and waits for a healthy diagnosis before the next.
// Network changes are waited for with lab.networkSynced(), never a sleep. Where a check's fix is
// the exact undo, the row restores by pasting that fix into a shell, as an operator would.

const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const SCRIPTS = '/opt/codedeploy-agent/deployment-root/linkbox-backend/current/scripts';

let lab: TestLab;
let dbSg: string;
let backendSg: string;

interface Row {
  fault: string;
  expected: string;
  got: string;
  ok: boolean;
}
const matrix: Row[] = [];

beforeAll(async () => {
  lab = await startTestLab();
  process.env.LINKBOX_CONFIG = lab.configPath;
  // The rotation lock the runbooks read lives in the console's store: one of this lab's own.
  process.env.AUDIT_SQLITE_PATH = join(dirname(lab.configPath), 'console.sqlite');
  dbSg = await groupId('*linkbox-db-sg*');
  backendSg = await groupId('*linkbox-backend-sg*');
});

afterAll(async () => {
  const width = (k: keyof Row) => Math.max(k.length, ...matrix.map((r) => String(r[k]).length));
  const [f, e, g] = [width('fault'), width('expected'), width('got')];
  const line = (a: string, b: string, c: string, d: string) => `${a.padEnd(f)} | ${b.padEnd(e)} | ${c.padEnd(g)} | ${d}`;
  console.log(
    ['', 'Fault matrix (fault → expected → got)', line('fault', 'expected', 'got', ''), `${'-'.repeat(f)}-+-${'-'.repeat(e)}-+-${'-'.repeat(g)}-+---`]
      .concat(matrix.map((r) => line(r.fault, r.expected, r.got, r.ok ? 'ok' : 'MISMATCH')))
      .join('\n'),
  );
  // startTestLab's own afterAll is registered inside beforeAll, where vitest never runs it.
  await lab?.stop();
  if (lab) await rm(dirname(lab.configPath), { recursive: true, force: true });
});

// ---- the operator's tools ----

async function cli(args: string[]): Promise<unknown> {
  const out = await awsCli(lab, args);
  // stderr names the command, never a parameter value; the password is passed only to put-parameter.
  if (out.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed: ${out.stderr.trim().slice(0, 300)}`);
  return out.json;
}

async function groupId(namePattern: string): Promise<string> {
  const out = (await cli(['ec2', 'describe-security-groups', '--filters', `Name=tag:Name,Values=${namePattern}`])) as { SecurityGroups: Array<{ GroupId: string }> };
  return out.SecurityGroups[0]!.GroupId;
}

async function parameter(name: string, decrypt = false): Promise<string> {
  const out = (await cli(['ssm', 'get-parameter', '--name', `${lab.parameterPrefix}/${name}`, ...(decrypt ? ['--with-decryption'] : [])])) as {
    Parameter: { Value: string };
  };
  return out.Parameter.Value;
}

async function putParameter(name: string, value: string, type: 'String' | 'SecureString' = 'String'): Promise<void> {
  await cli(['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/${name}`, '--type', type, '--value', value, '--overwrite']);
}

/** psql as an operator would run it against the RDS endpoint through the tunnel; the password only in PGPASSWORD. */
function psql(user: string, password: string, sql: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      'psql',
      ['-h', lab.db.host, '-p', String(lab.db.port), '-U', user, '-d', lab.rds.dbName, '-v', 'ON_ERROR_STOP=1', '-qc', sql],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000, encoding: 'utf8' },
      (err, _stdout, stderr) => (err ? fail(new Error(`psql failed: ${stderr.replace(password, '****').trim().slice(0, 300)}`)) : done()),
    );
  });
}

/** What CodeDeploy does on a redeploy: the deploy scripts on each instance, through Run Command. */
async function restartBackends(instanceIds: string[]): Promise<void> {
  const sent = (await cli([
    'ssm',
    'send-command',
    '--instance-ids',
    ...instanceIds,
    '--document-name',
    'AWS-RunShellScript',
    '--parameters',
    JSON.stringify({ commands: [`${SCRIPTS}/stop_application.sh`, `${SCRIPTS}/start_application.sh`] }),
  ])) as { Command: { CommandId: string } };
  for (const id of instanceIds) {
    await eventually(
      async () => {
        const out = await awsCli(lab, ['ssm', 'get-command-invocation', '--command-id', sent.Command.CommandId, '--instance-id', id]);
        return (out.json as { Status?: string } | undefined)?.Status ?? 'Pending';
      },
      (status) => !['Pending', 'InProgress', 'Delayed'].includes(status),
      60_000,
    );
  }
}

const childEnv = (vars: Record<string, string>) => vars as NodeJS.ProcessEnv;

/** A check's fix commands pasted into bash as an operator would (Debian's CLI v2 as `aws`). */
function pasteFix(commands: string[]): Promise<void> {
  expect(commands.length, 'the fix has commands').toBeGreaterThan(0);
  return new Promise((done, fail) => {
    execFile(
      'bash',
      ['-c', ['set -e', ...commands].join('\n')],
      {
        // Only what the CLI needs, nothing of ours.
        env: childEnv({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_PAGER: '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }),
        timeout: 60_000,
        encoding: 'utf8',
      },
      (err, _stdout, stderr) => (err ? fail(new Error(`the fix failed: ${stderr.trim().slice(0, 400)}`)) : done()),
    );
  });
}

/** The fix of the step that names the root cause, when the diagnosis got that far. */
function fixOf(d: Diagnosis | undefined, check: CheckId): string[] | null {
  const step = d?.rootCause === check ? d.steps.find((s) => s.id === d.rootCauseStep) : undefined;
  return step?.fix?.commands ?? null;
}

async function addFault(rule: Record<string, unknown>): Promise<void> {
  const res = await labApi(lab, 'POST', '/_lab/faults', rule);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
}

async function clearFaults(): Promise<void> {
  await labApi(lab, 'POST', '/_lab/reset');
}

// ---- diagnosing ----

async function eventually<T>(probe: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!done(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    last = await probe();
  }
  return last;
}

const diagnose = () => diagnoseEnvironment(viewer, 'production', { fresh: true });

function describeGot(d: Diagnosis): string {
  if (d.rootCause) return `${d.rootCause}${d.rootCauseStep !== d.rootCause ? ` (step ${d.rootCauseStep})` : ''} → ${d.runbook}`;
  return d.verdict === 'unknown' ? `none, unknown (could not check: ${d.couldNotCheck.join(', ')})` : 'none, healthy';
}

function failingSteps(d: Diagnosis): string {
  return d.steps
    .filter((s) => s.status !== 'pass')
    .map((s) => `${s.id}=${s.status}: ${s.summary}`)
    .join('\n');
}

interface Expectation {
  rootCause: CheckId | null;
  /** For a fault the console cannot see through: the step it must report as "could not check". */
  couldNotCheck?: StepId;
  /** What a step (the root cause's, unless named) must say, in its summary and evidence; `says` for the table. */
  evidence?: { step?: StepId; pattern: RegExp; says: string };
}

function meets(d: Diagnosis, want: Expectation): boolean {
  if (want.evidence && !want.evidence.pattern.test(stepText(d, want.evidence.step ?? d.rootCauseStep))) return false;
  if (want.rootCause) return d.rootCause === want.rootCause && d.verdict === 'broken';
  if (want.couldNotCheck) return d.rootCause === null && d.verdict === 'unknown' && d.couldNotCheck.includes(want.couldNotCheck);
  return d.rootCause === null && d.verdict === 'healthy';
}

function stepText(d: Diagnosis, id: StepId | null): string {
  const step = d.steps.find((s) => s.id === id);
  return step ? `${step.summary}\n${JSON.stringify(step.evidence)}` : '';
}

function expectedText(want: Expectation): string {
  const evidence = want.evidence ? ` (${want.evidence.step ? `${want.evidence.step} ` : ''}says ${want.evidence.says})` : '';
  if (want.rootCause) return `${want.rootCause}${evidence}`;
  if (want.couldNotCheck) return `none, unknown (could not check: ${want.couldNotCheck})`;
  return `none, healthy${evidence}`;
}

/**
 * Causes the fault, diagnoses until the lab's physics have caught up (or the time is up), records
 * the row, restores, and waits for a healthy diagnosis so the next row starts clean.
 */
async function faultRow(fault: string, want: Expectation, cause: () => Promise<void>, restore: (got: Diagnosis | undefined) => Promise<void>): Promise<void> {
  let got: Diagnosis | undefined;
  try {
    await cause();
    got = await eventually(diagnose, (d) => meets(d, want));
  } finally {
    await restore(got);
    const healthy = await eventually(diagnose, (d) => meets(d, { rootCause: null }), 90_000);
    expect(healthy.verdict, `the lab did not come back healthy after "${fault}":\n${failingSteps(healthy)}`).toBe('healthy');
  }
  const ok = meets(got, want);
  matrix.push({ fault, expected: expectedText(want), got: describeGot(got), ok });
  expect(ok, `diagnosis after "${fault}" named ${describeGot(got)}:\n${failingSteps(got)}`).toBe(true);
}

describe.sequential('fault matrix: the diagnosis names the root cause of faults caused as in life', () => {
  test('a healthy lab names no root cause and no unchecked step', async () => {
    const d = await eventually(diagnose, (x) => meets(x, { rootCause: null }), 60_000);
    matrix.push({ fault: 'none (healthy lab)', expected: 'none, healthy', got: describeGot(d), ok: meets(d, { rootCause: null }) });
    expect(d.verdict, failingSteps(d)).toBe('healthy');
    expect(d.rootCause).toBeNull();
    expect(d.runbook).toBeNull();
    // Every runbook's steps are in the answer, each once.
    expect(new Set(d.steps.map((s) => s.id)).size).toBe(d.steps.length);
    expect(d.steps.map((s) => s.id)).toEqual(expect.arrayContaining(['backend.tcp', 'backend.role-permissions', 'backend.agent-online', 'rotation.pending']));
  });

  test('revoking the backend group from the DB group names sg.backend-ingress', async () => {
    const rule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', backendSg];
    await faultRow(
      'aws ec2 revoke-security-group-ingress (backend group on 5432)',
      // The backends' nc is settled by the rules, without waiting out its timeout.
      { rootCause: 'sg.backend-ingress', evidence: { step: 'backend.tcp', pattern: /the VPC's rules drop it/, says: 'dropped by the rules' } },
      async () => void (await cli(['ec2', 'revoke-security-group-ingress', ...rule])),
      async () => void (await cli(['ec2', 'authorize-security-group-ingress', ...rule])),
    );
  });

  test('the diagnosis answers once the root cause is certain, and the slower steps after it stream in', async () => {
    const rule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', backendSg];
    await cli(['ec2', 'revoke-security-group-ingress', ...rule]);
    try {
      await eventually(diagnose, (d) => d.rootCause === 'sg.backend-ingress');
      // The instance role's simulation (placed with the containers) answers long after the security groups.
      await addFault({ kind: 'latency', service: 'iam', action: 'SimulatePrincipalPolicy', ms: 2500 });
      const run = openDiagnosis(viewer, 'production', { fresh: true });
      const early = await run.certain;
      expect(early).toMatchObject({ rootCause: 'sg.backend-ingress', verdict: 'broken', complete: false });
      expect(early.pending.map((p) => p.id)).toContain('backend.role-permissions');
      expect(early.steps.map((s) => s.id)).not.toContain('backend.role-permissions');
      const all = await run.complete;
      expect(all).toMatchObject({ rootCause: 'sg.backend-ingress', complete: true, pending: [] });
      expect(all.steps.find((s) => s.id === 'backend.role-permissions')?.status).toBe('pass');
    } finally {
      await clearFaults();
      await cli(['ec2', 'authorize-security-group-ingress', ...rule]);
      await eventually(diagnose, (d) => meets(d, { rootCause: null }), 90_000);
    }
  });

  test('opening 5432 to 0.0.0.0/0 names sg.no-public-ingress', async () => {
    const rule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--cidr', '0.0.0.0/0'];
    await faultRow(
      'aws ec2 authorize-security-group-ingress 0.0.0.0/0 on 5432',
      { rootCause: 'sg.no-public-ingress' },
      async () => void (await cli(['ec2', 'authorize-security-group-ingress', ...rule])),
      async () => void (await cli(['ec2', 'revoke-security-group-ingress', ...rule])),
    );
  });

  test('deleting db-name names ssm.parameters', async () => {
    const saved = await parameter('db-name');
    await faultRow(
      'aws ssm delete-parameter db-name',
      { rootCause: 'ssm.parameters' },
      async () => void (await cli(['ssm', 'delete-parameter', '--name', `${lab.parameterPrefix}/db-name`])),
      () => putParameter('db-name', saved),
    );
  });

  test('a mistyped db-name value names db.login (the database does not exist)', async () => {
    const saved = await parameter('db-name');
    await faultRow(
      'aws ssm put-parameter db-name "linkbx" (typo)',
      { rootCause: 'db.login' },
      () => putParameter('db-name', 'linkbx'),
      () => putParameter('db-name', saved),
    );
  });

  test('changing db-username names rds.username-match', async () => {
    const saved = await parameter('db-username');
    await faultRow(
      'aws ssm put-parameter db-username "linkbox_admin"',
      { rootCause: 'rds.username-match' },
      () => putParameter('db-username', 'linkbox_admin'),
      () => putParameter('db-username', saved),
    );
  });

  test('changing db-endpoint names rds.endpoint-match', async () => {
    const saved = await parameter('db-endpoint');
    await faultRow(
      'aws ssm put-parameter db-endpoint (old instance address)',
      { rootCause: 'rds.endpoint-match' },
      () => putParameter('db-endpoint', saved.replace(/^[^.]+/, 'linkbox-db-old')),
      () => putParameter('db-endpoint', saved),
    );
  });

  test('stopping the DB instance names rds.status', async () => {
    const id = lab.rds.instanceId;
    await faultRow(
      'aws rds stop-db-instance',
      { rootCause: 'rds.status' },
      async () => void (await cli(['rds', 'stop-db-instance', '--db-instance-identifier', id])),
      async () => {
        await cli(['rds', 'start-db-instance', '--db-instance-identifier', id]);
        await eventually(
          async () => ((await cli(['rds', 'describe-db-instances', '--db-instance-identifier', id])) as { DBInstances: Array<{ DBInstanceStatus: string }> }).DBInstances[0]!.DBInstanceStatus,
          (s) => s === 'available',
          60_000,
        );
      },
    );
  });

  test('ALTER ROLE behind SSM\'s back names db.login', async () => {
    const current = await parameter('db-password', true);
    const other = `behind-ssm-${Date.now()}`;
    await faultRow(
      'psql: ALTER ROLE linkbox PASSWORD ... (SSM unchanged)',
      { rootCause: 'db.login' },
      () => psql(lab.rds.masterUsername, current, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${other}'`),
      () => psql(lab.rds.masterUsername, other, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${current}'`),
    );
  });

  test('AccessDenied on the console\'s GetParameters names no root cause: ssm.parameters could not be checked', async () => {
    await faultRow(
      'lab fault: AccessDeniedException on ssm:GetParameters',
      { rootCause: null, couldNotCheck: 'ssm.parameters' },
      () => addFault({ kind: 'error', service: 'ssm', action: 'GetParameters', error: 'AccessDeniedException', probability: 1 }),
      clearFaults,
    );
  });

  test('SSM throttling every call names no root cause: the verdict is unknown, never broken', async () => {
    await faultRow(
      'lab fault: ThrottlingException on every SSM call',
      { rootCause: null, couldNotCheck: 'ssm.parameters' },
      () => addFault({ kind: 'error', service: 'ssm', error: 'ThrottlingException', probability: 1 }),
      clearFaults,
    );
  });

  test('KMS denying decryption names no root cause while the running backends still hold their password', async () => {
    await faultRow(
      'lab fault: KMS denied (running containers unaffected)',
      { rootCause: null, couldNotCheck: 'db.login' },
      () => addFault({ kind: 'kms-denied' }),
      clearFaults,
    );
  });

  test('KMS denied and then a redeploy names containers.running: the restarted container cannot read its password', async () => {
    const instance = lab.instances[0]!.id;
    await faultRow(
      'lab fault: KMS denied, then a backend redeploys',
      { rootCause: 'containers.running' },
      async () => {
        await addFault({ kind: 'kms-denied' });
        await restartBackends([instance]);
      },
      async () => {
        await clearFaults();
        await restartBackends([instance]);
      },
    );
  });

  test('a crashed container names containers.running', async () => {
    const instance = lab.instances[1]!.id;
    await faultRow(
      'lab fault: container crashed on the second backend',
      { rootCause: 'containers.running' },
      () => addFault({ kind: 'container', instanceId: instance, mode: 'crashed' }),
      clearFaults,
    );
  });

  test('the password stored as a plain String names ssm.password-type', async () => {
    const current = await parameter('db-password', true);
    await faultRow(
      'aws ssm put-parameter db-password --type String',
      { rootCause: 'ssm.password-type' },
      () => putParameter('db-password', current, 'String'),
      async () => {
        await putParameter('db-password', current, 'SecureString');
        // A new version of db-password: the containers are restarted as after any password change.
        await restartBackends(lab.instances.map((i) => i.id));
      },
    );
  });

  // ---- one backend's own network path (net.instance-security-groups, net.network-acls) ----

  test('moving one backend to another security group names net.instance-security-groups, and its fix puts it back', async () => {
    const [, b] = lab.instances;
    const other = ((await cli(['ec2', 'create-security-group', '--group-name', `linkbox-misc-${Date.now()}`, '--description', 'some other group', '--vpc-id', lab.vpc.id])) as { GroupId: string }).GroupId;
    await faultRow(
      'aws ec2 modify-instance-attribute --groups <another group> (second backend)',
      { rootCause: 'net.instance-security-groups', evidence: { pattern: new RegExp(`${b!.id}[^;]*admits neither ${other} nor ${b!.privateIp.replace(/\./g, '\\.')}`), says: 'the instance, its group and address' } },
      async () => {
        await cli(['ec2', 'modify-instance-attribute', '--instance-id', b!.id, '--groups', other]);
        await lab.networkSynced();
      },
      async (got) => {
        // The fix keeps the other group beside the backend group; the lab goes back to the backend group alone.
        await cli(['ec2', 'modify-instance-attribute', '--instance-id', b!.id, '--groups', backendSg]);
        await lab.networkSynced();
        expect(fixOf(got, 'net.instance-security-groups')).toEqual([expect.stringMatching(new RegExp(`^aws ec2 modify-instance-attribute --instance-id ${b!.id} --groups ${other} ${backendSg} `))]);
      },
    );
  });

  test('a /32 rule admitting only the first backend in place of the group rule names net.instance-security-groups for the second', async () => {
    const [a, b] = lab.instances;
    const groupRule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--source-group', backendSg];
    const addressRule = ['--group-id', dbSg, '--protocol', 'tcp', '--port', '5432', '--cidr', `${a!.privateIp}/32`];
    await faultRow(
      'aws ec2 authorize ... --cidr <first backend>/32, revoke ... --source-group <backend group>',
      { rootCause: 'net.instance-security-groups', evidence: { pattern: new RegExp(`^${b!.id}[^;]*: ${dbSg} admits neither`), says: 'only the second instance' } },
      async () => {
        await cli(['ec2', 'authorize-security-group-ingress', ...addressRule]);
        await cli(['ec2', 'revoke-security-group-ingress', ...groupRule]);
        await lab.networkSynced();
      },
      async (got) => {
        // The fix admits the backend group again, as before the fault.
        const fix = fixOf(got, 'net.instance-security-groups');
        if (fix) await pasteFix(fix);
        else await cli(['ec2', 'authorize-security-group-ingress', ...groupRule]);
        await cli(['ec2', 'revoke-security-group-ingress', ...addressRule]);
        await lab.networkSynced();
      },
    );
  });

  test('a deny entry in the DB subnets\' ACL for one app subnet names net.network-acls, and its fix deletes the entry', async () => {
    const [, b] = lab.instances;
    const appB = lab.vpc.appSubnets.find((s) => s.id === b!.subnetId)!.cidr;
    const acl = lab.vpc.dbNetworkAclId;
    await faultRow(
      'aws ec2 create-network-acl-entry (DB ACL: deny tcp 5432 from the second app subnet, rule 90)',
      { rootCause: 'net.network-acls', evidence: { pattern: new RegExp(`${b!.id}[^;]*the request into ${lab.rds.subnetId}[^;]*dropped by ${acl}: port 5432 from ${b!.privateIp.replace(/\./g, '\\.')}: ingress rule 90 \\(deny tcp 5432`), says: 'the instance, the subnet, the ACL and rule 90' } },
      async () => {
        await cli(['ec2', 'create-network-acl-entry', '--network-acl-id', acl, '--ingress', '--rule-number', '90', '--protocol', 'tcp', '--port-range', 'From=5432,To=5432', '--cidr-block', appB, '--rule-action', 'deny']);
        await lab.networkSynced();
      },
      async (got) => {
        const fix = fixOf(got, 'net.network-acls');
        await pasteFix(fix ?? [`aws ec2 delete-network-acl-entry --network-acl-id ${acl} --ingress --rule-number 90 --region ${lab.region} --endpoint-url ${lab.awsEndpoint}`]);
        await lab.networkSynced();
        expect(fix).toEqual([expect.stringMatching(new RegExp(`^aws ec2 delete-network-acl-entry --network-acl-id ${acl} --ingress --rule-number 90 `))]);
      },
    );
  });

  test('removing the DB ACL\'s reply rule for the first app subnet names net.network-acls before the tunnel\'s net.tcp, and its fix adds the rule back', async () => {
    const [a] = lab.instances;
    const appA = lab.vpc.appSubnets.find((s) => s.id === a!.subnetId)!.cidr;
    const acl = lab.vpc.dbNetworkAclId;
    await faultRow(
      'aws ec2 delete-network-acl-entry (DB ACL egress 1024-65535 to the first app subnet)',
      { rootCause: 'net.network-acls', evidence: { pattern: new RegExp(`${a!.id}[^;]*the reply out of ${lab.rds.subnetId}[^;]*dropped by ${acl}: ports 32768-60999 to ${a!.privateIp.replace(/\./g, '\\.')}: egress rule \\*`), says: 'the reply to ports 32768-60999, rule *' } },
      async () => {
        await cli(['ec2', 'delete-network-acl-entry', '--network-acl-id', acl, '--egress', '--rule-number', '100']);
        await lab.networkSynced();
      },
      async (got) => {
        const fix = fixOf(got, 'net.network-acls');
        await pasteFix(fix ?? [`aws ec2 create-network-acl-entry --network-acl-id ${acl} --egress --rule-number 100 --protocol tcp --port-range From=1024,To=65535 --cidr-block ${appA} --rule-action allow --region ${lab.region} --endpoint-url ${lab.awsEndpoint}`]);
        await lab.networkSynced();
        expect(fix).toEqual([expect.stringMatching(new RegExp(`^aws ec2 create-network-acl-entry --network-acl-id ${acl} --egress --rule-number 100 --protocol tcp --port-range From=1024,To=65535 --cidr-block ${appA.replace(/\./g, '\\.')} --rule-action allow `))]);
      },
    );
  });

  test('moving the database\'s subnet to an ACL without entries names net.network-acls, and its fix moves it back', async () => {
    const created = ((await cli(['ec2', 'create-network-acl', '--vpc-id', lab.vpc.id])) as { NetworkAcl: { NetworkAclId: string } }).NetworkAcl.NetworkAclId;
    const associationOf = async (subnetId: string) => {
      const out = (await cli(['ec2', 'describe-network-acls', '--filters', `Name=association.subnet-id,Values=${subnetId}`])) as { NetworkAcls: Array<{ Associations: Array<{ SubnetId: string; NetworkAclAssociationId: string }> }> };
      return out.NetworkAcls[0]!.Associations.find((x) => x.SubnetId === subnetId)!.NetworkAclAssociationId;
    };
    await faultRow(
      'aws ec2 replace-network-acl-association (the DB subnet to a new, empty ACL)',
      { rootCause: 'net.network-acls', evidence: { pattern: new RegExp(`the request into ${lab.rds.subnetId}[^;]*dropped by ${created}: port 5432 from [0-9.]+: ingress rule \\* \\(no entry allows it\\)`), says: 'the DB subnet, the new ACL, rule *' } },
      async () => {
        await cli(['ec2', 'replace-network-acl-association', '--association-id', await associationOf(lab.rds.subnetId), '--network-acl-id', created]);
        await lab.networkSynced();
      },
      async (got) => {
        const fix = fixOf(got, 'net.network-acls');
        await pasteFix(fix ?? [`aws ec2 replace-network-acl-association --association-id ${await associationOf(lab.rds.subnetId)} --network-acl-id ${lab.vpc.dbNetworkAclId} --region ${lab.region} --endpoint-url ${lab.awsEndpoint}`]);
        await cli(['ec2', 'delete-network-acl', '--network-acl-id', created]);
        await lab.networkSynced();
        expect(fix).toEqual([expect.stringMatching(new RegExp(`^aws ec2 replace-network-acl-association --association-id aclassoc-\\S+ --network-acl-id ${lab.vpc.dbNetworkAclId} `))]);
      },
    );
  });

  // ---- the stored values as the backends read them, and freshness by value ----

  test('a password with %41 that RDS and SSM agree on names db.backend-credentials: the console logs in, the backends do not', async () => {
    const current = await parameter('db-password', true);
    const encoded = `Lab%41${Date.now()}`;
    const ids = lab.instances.map((i) => i.id);
    await faultRow(
      'aws ssm put-parameter db-password "…%41…" + psql ALTER ROLE, then a redeploy',
      { rootCause: 'db.backend-credentials', evidence: { pattern: /\/db-password holds a percent sign followed by two hex digits \(%XX\)/, says: 'db-password holds %XX' } },
      async () => {
        await psql(lab.rds.masterUsername, current, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${encoded}'`);
        await putParameter('db-password', encoded, 'SecureString');
        await restartBackends(ids);
      },
      async (got) => {
        await psql(lab.rds.masterUsername, encoded, `ALTER ROLE ${lab.rds.masterUsername} PASSWORD '${current}'`);
        await putParameter('db-password', current, 'SecureString');
        await restartBackends(ids);
        // The console's login succeeded where the backends' failed: the diagnosis says why, not only that.
        expect(stepText(got!, 'db.login')).toMatch(/^Logged in as/);
        expect(stepText(got!, 'backend.login-path')).toMatch(/(is|are) refused the login\. What differs: credentials as parsed/);
        expect(JSON.stringify(got)).not.toContain(encoded);
      },
    );
  });

  test('rewriting db-password with its own value leaves production healthy: the containers hold the current value', async () => {
    const current = await parameter('db-password', true);
    await faultRow(
      'aws ssm put-parameter db-password <its own value> --overwrite',
      { rootCause: null, evidence: { step: 'containers.fresh-credentials', pattern: /started before version \d+ was written, but with the same value/, says: 'same value' } },
      () => putParameter('db-password', current, 'SecureString'),
      async () => undefined,
    );
  });
});
