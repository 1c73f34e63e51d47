import { readFileSync } from 'node:fs';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { PutRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAB_CONSOLE_ROLE_NAME } from '@/infra/aws/lab-console-role';
import { environmentPolicy, type PolicyDocument } from '@/lib/aws/catalogue';
import { getRedeploy, startRedeploy } from '@/lib/deploy';
import { getRotation, rollbackRotation, rotationWorkSettled, startRotation } from '@/lib/rotation';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '@/lib/status';
import { awsEnvironmentSchema } from '@/lib/config/schema';
import { awsCli } from '../support/lab';
import { finished, logsIn, operator, startRotationLab, stopRotationLab, storedPasswords, waitForRotation, type RotationLab } from '../rotation/support';

// Every statement of the generated policy is needed: with each one removed in turn, one short session
// of the console (status, diagnosis, rotation, redeploy — as far as it gets) meets AWS's AccessDenied
// naming an action of that statement, and shows it as "could not check" or a refused step: never as
// LinkBox broken, never leaving a password that does not log in. The console runs as the lab's
// console role, whose policy is the catalogue's; the test takes statements out of that role.

const ADMIN = { accessKeyId: 'LABPOLICYTEST', secretAccessKey: 'lab-not-a-secret' };
const DENIED = /not authorized to perform: ([a-z0-9]+:[A-Za-z]+)/;
/** The seed's instance role (infra/lab/seed.ts), as the lab's config names it in backendIam. */
const BACKEND_ROLE = 'linkbox-backend-role';

let world: RotationLab;
let policy: PolicyDocument;
let iam: IAMClient;
let ssm: SSMClient;

beforeAll(async () => {
  world = await startRotationLab();
  const { lab } = world;
  const common = { region: lab.region, endpoint: lab.awsEndpoint, credentials: ADMIN, maxAttempts: 2 };
  iam = new IAMClient(common);
  ssm = new SSMClient(common);
  const sts = new STSClient(common);
  const accountId = (await sts.send(new GetCallerIdentityCommand({}))).Account!;
  sts.destroy();
  const production = (JSON.parse(readFileSync(world.configPath, 'utf8')) as { environments: Array<{ name: string }> }).environments.find((e) => e.name === 'production');
  // What the lab gave the console role: the catalogue's policy for production (labConsoleRole).
  policy = environmentPolicy([awsEnvironmentSchema.parse(production)], { partition: 'aws', accountId });
});

afterAll(async () => {
  iam?.destroy();
  ssm?.destroy();
  await stopRotationLab(world);
});

const putPolicy = (document: PolicyDocument) =>
  iam.send(new PutRolePolicyCommand({ RoleName: LAB_CONSOLE_ROLE_NAME, PolicyName: `${LAB_CONSOLE_ROLE_NAME}-permissions`, PolicyDocument: JSON.stringify(document) }));

interface Refusal {
  stage: 'status' | 'diagnosis' | 'rotation' | 'redeploy' | 'rewrite';
  where: string;
  action: string;
  /** How the console showed it: a check's or step's status, a rotation's state. */
  shownAs: string;
  text: string;
}

function refusalIn(stage: Refusal['stage'], items: Array<{ where: string; shownAs: string; text: string | null }>): Refusal | null {
  for (const item of items) {
    const action = item.text && DENIED.exec(item.text)?.[1];
    if (action) return { stage, where: item.where, action, shownAs: item.shownAs, text: item.text! };
  }
  return null;
}

/** Status, diagnosis, rotation, redeploy, a same-value rewrite, stopping at the first AccessDenied the console reports. */
async function session(): Promise<{ refusal: Refusal | null; broken: string[] }> {
  const broken: string[] = [];
  const status = await getEnvironmentStatus(operator, 'production', { fresh: true });
  if (status.overall === 'broken') broken.push(`status: ${status.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.summary}`).join('; ')}`);
  const fromStatus = refusalIn('status', [
    ...status.checks.map((c) => ({ where: c.id, shownAs: c.status, text: `${c.summary} ${JSON.stringify(c.evidence)}` })),
    { where: 'stale status', shownAs: 'stale', text: status.staleReason ?? null },
  ]);
  if (fromStatus) return { refusal: fromStatus, broken };

  const diagnosis = await diagnoseEnvironment(operator, 'production', { fresh: true });
  if (diagnosis.verdict === 'broken') broken.push(`diagnosis: root cause ${diagnosis.rootCauseStep}`);
  const fromDiagnosis = refusalIn('diagnosis', diagnosis.steps.map((s) => ({ where: s.id, shownAs: s.status, text: `${s.summary} ${JSON.stringify(s.evidence)}` })));
  if (fromDiagnosis) return { refusal: fromDiagnosis, broken };

  const started = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
  if (!started.ok) return { refusal: refusalIn('rotation', [{ where: 'start', shownAs: 'refused', text: started.error }]), broken };
  await rotationWorkSettled('production');
  const rotation = (await waitForRotation('production', finished))!;
  const fromRotation = refusalIn('rotation', [
    ...rotation.steps.map((s) => ({ where: s.name, shownAs: `${rotation.state}/${s.status}`, text: s.detail })),
    { where: 'rotation', shownAs: rotation.state, text: rotation.error },
  ]);
  if (fromRotation) return { refusal: fromRotation, broken };

  const redeploy = await startRedeploy(operator, 'production', { confirmEnvironment: 'production' });
  if (!redeploy.ok) return { refusal: refusalIn('redeploy', [{ where: 'start', shownAs: 'refused', text: redeploy.error }]), broken };
  const state = await redeployFinished();
  const view = await getRedeploy(operator, 'production');
  const fromRedeploy = refusalIn('redeploy', [{ where: 'redeploy', shownAs: state ?? 'missing', text: view?.error ?? null }]);
  if (fromRedeploy) return { refusal: fromRedeploy, broken };

  // The ssm.password-type fix writes the same value again: containers started before it are judged by value.
  const { current } = await storedPasswords(world.lab);
  await ssm.send(new PutParameterCommand({ Name: `${world.lab.parameterPrefix}/db-password`, Value: current!.value, Type: 'SecureString', Overwrite: true }));
  const rewritten = await getEnvironmentStatus(operator, 'production', { fresh: true });
  if (rewritten.overall === 'broken') broken.push(`after the rewrite: ${rewritten.checks.filter((c) => c.status === 'fail').map((c) => `${c.id} ${c.summary}`).join('; ')}`);
  return { refusal: refusalIn('rewrite', rewritten.checks.map((c) => ({ where: c.id, shownAs: c.status, text: `${c.summary} ${JSON.stringify(c.evidence)}` }))), broken };
}

/**
 * After a refused rotation, with the full policy back, what an operator would do: roll back where
 * that is offered, remove a pending slot that only repeats the promoted password, and restart the
 * containers when the password was promoted but they were not restarted.
 */
async function settleRotation(): Promise<void> {
  const rotation = await getRotation(operator, 'production');
  if (rotation?.canRollBack) {
    const rolled = await rollbackRotation(operator, 'production', { confirmEnvironment: 'production' });
    expect(rolled.ok, JSON.stringify(rolled)).toBe(true);
    await rotationWorkSettled('production');
  }
  if ((await storedPasswords(world.lab)).pending) {
    // A refusal after promotion leaves the pending slot holding the promoted password: SSM's current copy is the same.
    await ssm.send(new DeleteParameterCommand({ Name: `${world.lab.parameterPrefix}/db-password-pending` }));
  }
  const step = (name: string) => rotation?.steps.find((s) => s.name === name)?.status;
  if (step('promote') === 'done' && step('restart') !== 'done') {
    expect(await startRedeploy(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    expect(await redeployFinished()).toBe('completed');
  }
}

async function redeployFinished(): Promise<string | undefined> {
  let view = await getRedeploy(operator, 'production');
  for (let i = 0; i < 240 && view?.state === 'running'; i++) {
    await new Promise((r) => setTimeout(r, 250));
    view = await getRedeploy(operator, 'production');
  }
  return view?.state;
}

describe('the generated policy, one statement at a time', () => {
  it('lists the statements this test takes out', () => {
    expect(policy.Statement.map((s) => s.Sid)).toEqual([
      'ReadParameters',
      'PasswordHistory',
      'DescribeParameters',
      'WritePasswordSlots',
      'RemovePendingSlot',
      'PasswordKeyThroughSsm',
      'RunShellScriptDocument',
      'RunOnBackends',
      'CommandResults',
      'AgentStatus',
      'DescribeDatabase',
      'ChangeMasterPassword',
      'DescribeNetwork',
      'BackendInstanceProfile',
      'SimulateBackendRole',
    ]);
  });

  // Where the session first needs each statement: the check, diagnosis step or rotation step that says so.
  it.each<[string, Refusal['stage'], string]>([
    ['ReadParameters', 'status', 'ssm.parameters'],
    ['PasswordHistory', 'rewrite', 'containers.fresh-credentials'],
    ['DescribeParameters', 'rotation', 'start'],
    ['WritePasswordSlots', 'rotation', 'store-pending'],
    ['RemovePendingSlot', 'rotation', 'remove-pending'],
    ['PasswordKeyThroughSsm', 'status', 'db.login'],
    ['RunShellScriptDocument', 'status', 'containers.running'],
    ['RunOnBackends', 'status', 'containers.running'],
    ['CommandResults', 'status', 'containers.running'],
    ['AgentStatus', 'diagnosis', 'backend.agent-online'],
    ['DescribeDatabase', 'status', 'rds.status'],
    ['ChangeMasterPassword', 'rotation', 'modify-db'],
    ['DescribeNetwork', 'status', 'sg.backend-ingress'],
    ['BackendInstanceProfile', 'diagnosis', 'backend.role-permissions'],
    ['SimulateBackendRole', 'diagnosis', 'backend.role-permissions'],
  ])(
    'without %s the session meets AccessDenied naming its action (%s: %s), shown as could-not-check or a refused step',
    async (sid, stage, where) => {
      const statement = policy.Statement.find((s) => s.Sid === sid)!;
      await putPolicy({ ...policy, Statement: policy.Statement.filter((s) => s.Sid !== sid) });
      let outcome: Awaited<ReturnType<typeof session>>;
      try {
        outcome = await session();
      } finally {
        await putPolicy(policy);
      }
      const { refusal, broken } = outcome;
      expect(refusal, `nothing in the session needed ${sid}: the statement is not least privilege`).not.toBeNull();
      expect(statement.Action).toContain(refusal!.action);
      expect({ stage: refusal!.stage, where: refusal!.where }).toEqual({ stage, where });
      expect(broken, 'a refusal must never be shown as LinkBox broken').toEqual([]);
      if (refusal!.stage === 'status' || refusal!.stage === 'diagnosis' || refusal!.stage === 'rewrite') expect(refusal!.shownAs, refusal!.where).toBe('error');
      else expect(refusal!.shownAs, `${refusal!.stage} ${refusal!.where}`).toMatch(/^(failed|refused)/);
      if (refusal!.stage === 'rotation') {
        await settleRotation();
        const { current } = await storedPasswords(world.lab);
        expect(await logsIn(world.lab, current!.value), 'the stored password logs in after the refused rotation').toBe(true);
      }
    },
  );
});

describe("the backends' own role", () => {
  it('a Deny put on it with the AWS CLI makes start_application.sh fail on a restart, and the diagnosis names backend.role-permissions', async () => {
    const { lab } = world;
    const deny = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ssm:GetParameter*', Resource: '*' }] });
    const put = await awsCli(lab, ['iam', 'put-role-policy', '--role-name', BACKEND_ROLE, '--policy-name', 'deny-parameters', '--policy-document', deny]);
    expect(put.code, put.stderr).toBe(0);
    try {
      expect(await startRedeploy(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
      expect(await redeployFinished()).toBe('failed');
      const diagnosis = await diagnoseEnvironment(operator, 'production', { fresh: true });
      const step = diagnosis.steps.find((s) => s.id === 'backend.role-permissions')!;
      expect(step.status).toBe('fail');
      expect(step.summary).toMatch(/linkbox-backend-role is explicitly denied ssm:GetParameter/);
      expect(diagnosis).toMatchObject({ verdict: 'broken', rootCauseStep: 'backend.role-permissions' });
    } finally {
      const removed = await awsCli(lab, ['iam', 'delete-role-policy', '--role-name', BACKEND_ROLE, '--policy-name', 'deny-parameters']);
      expect(removed.code, removed.stderr).toBe(0);
    }
    // Without the Deny a restart heals it.
    expect(await startRedeploy(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    expect(await redeployFinished()).toBe('completed');
  });
});
