import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CheckId, EnvironmentStatus } from '@/lib/checks/types';
import { setConfigForTests } from '@/lib/config/load';
import { getRedeploy, startRedeploy } from '@/lib/deploy';
import { setRolloutTimingsForTests } from '@/lib/operations/rollout';
import { rotationWorkSettled, startRotation } from '@/lib/rotation';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { getEnvironmentStatus } from '@/lib/status';
import type { RunCommandRecord } from '@/infra/lab/contract';
import { startRogueListener, type RogueListener } from '@/infra/lab/network/rogue-postgres';
import { awsCli, eventually, labApi } from '../support/lab';
import { finished, healthStatuses, operator, startRotationLab, stopRotationLab, storedPasswords, viewer, waitForRotation, type RotationLab } from '../rotation/support';

// Where the master password may go, proven against the lab as an attacker inside the AWS account
// would use it: Docker prints a container's environment, Run Command keeps every output, anyone with
// ssm:PutParameter on a String can point db-endpoint at a listener of their own, and a tunnel may
// lead somewhere else. See docs/SECURITY.md.

const CONSOLE_APPLICATION = 'linkbox-ops-console';
let world: RotationLab;
let labConfig: { environments: Array<Record<string, unknown>> } & Record<string, unknown>;
const rogues: RogueListener[] = [];

beforeAll(async () => {
  world = await startRotationLab();
  labConfig = JSON.parse(readFileSync(world.configPath, 'utf8'));
  // A backend that cannot reach its database should stop the rollout in seconds.
  setRolloutTimingsForTests({ healthTimeoutMs: 8000, commandTimeoutMs: 30_000 });
});

afterAll(async () => {
  setRolloutTimingsForTests(null);
  await Promise.all(rogues.map((r) => r.stop()));
  await stopRotationLab(world);
});

/** The lab's config with production's `reachVia` replaced (or removed: the console inside the VPC). */
function configureProduction(reachVia: { host: string; port: number } | null): void {
  setConfigForTests({
    ...labConfig,
    environments: labConfig.environments.map((env) => {
      if (env.kind !== 'aws') return env;
      const { reachVia: _tunnel, ...rest } = env;
      return reachVia ? { ...rest, reachVia } : rest;
    }),
  } as Parameters<typeof setConfigForTests>[0]);
}

const production = () => getEnvironmentStatus(viewer, 'production', { fresh: true });
const check = (s: EnvironmentStatus, id: CheckId) => s.checks.find((c) => c.id === id)!;

async function ssmCli(args: string[]): Promise<string> {
  const out = await awsCli(world.lab, ['ssm', ...args]);
  if (out.code !== 0) throw new Error(`aws ssm ${args[0]} failed: ${out.stderr.trim().slice(0, 300)}`);
  return out.stdout;
}

async function setDbEndpoint(value: string): Promise<void> {
  await ssmCli(['put-parameter', '--name', `${world.lab.parameterPrefix}/db-endpoint`, '--type', 'String', '--value', value, '--overwrite']);
}

/** Everything Run Command keeps, as an attacker with ssm:List* reads it, plus the lab's whole history. */
async function runCommandRecords(): Promise<{ history: RunCommandRecord[]; text: string }> {
  const { body } = await labApi<{ commands: RunCommandRecord[] }>(world.lab, 'GET', '/_lab/run-command/history');
  const listed = await ssmCli(['list-commands']);
  const details = await ssmCli(['list-command-invocations', '--details']);
  return { history: body.commands, text: [JSON.stringify(body), listed, details].join('\n') };
}

async function redeployed(): Promise<void> {
  const started = await startRedeploy(operator, 'production', { confirmEnvironment: 'production' });
  expect(started, JSON.stringify(started)).toMatchObject({ ok: true });
  const view = await eventually(async () => {
    const v = await getRedeploy(viewer, 'production');
    return v && v.state !== 'running' ? v : undefined;
  }, 'the redeploy to finish', 90_000);
  expect(view.state, view.error ?? '').toBe('completed');
}

describe('the master password in Run Command history', () => {
  it('never appears in a command or its output after a status, a fresh status, a diagnosis, a rotation and a redeploy, though the lab Docker prints the environment', async () => {
    configureProduction(labConfig.environments.find((e) => e.kind === 'aws')!.reachVia as { host: string; port: number });
    const before = await storedPasswords(world.lab);

    await getEnvironmentStatus(viewer, 'production');
    expect((await production()).overall).toBe('healthy');
    expect((await diagnoseEnvironment(viewer, 'production', { fresh: true })).verdict).toBe('healthy');
    expect(await startRotation(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
    await rotationWorkSettled('production');
    expect((await waitForRotation('production', finished)).state).toBe('completed');
    await redeployed();
    const after = await storedPasswords(world.lab);
    expect(after.current!.value).not.toBe(before.current!.value);

    const { history, text } = await runCommandRecords();
    // The scan covers container state, nc and the rollouts: inspections answered with state only.
    expect(history.some((c) => c.parameters.commands?.some((l) => l.includes('docker inspect --format')))).toBe(true);
    expect(history.some((c) => c.parameters.commands?.some((l) => l.includes('start_application.sh')))).toBe(true);
    expect(history.flatMap((c) => c.invocations).some((i) => i.stdout.includes('"status":"running"'))).toBe(true);
    for (const secret of [before.current!.value, after.current!.value]) expect(text).not.toContain(secret);

    // The scan would see a leak: a bare `docker inspect` prints DATABASE_URL with the password.
    const sent = JSON.parse(
      await ssmCli(['send-command', '--instance-ids', world.lab.instances[0]!.id, '--document-name', 'AWS-RunShellScript', '--parameters', '{"commands":["docker inspect linkbox-backend"]}']),
    ) as { Command: { CommandId: string } };
    await eventually(async () => {
      const out = await awsCli(world.lab, ['ssm', 'get-command-invocation', '--command-id', sent.Command.CommandId, '--instance-id', world.lab.instances[0]!.id]);
      return (out.json as { Status?: string } | undefined)?.Status === 'Success' ? true : undefined;
    }, 'the bare docker inspect');
    expect((await runCommandRecords()).text).toContain(after.current!.value);
  });
});

describe('where the console sends the password', () => {
  it('never to a listener SSM db-endpoint names: no status, diagnosis or rotation logs in there, while the backends that follow db-endpoint do', async () => {
    const { lab } = world;
    const rogue = await startRogueListener({ mode: 'cleartext-password' });
    rogues.push(rogue);
    // The console inside the VPC: it connects where DescribeDBInstances says the database is.
    configureProduction(null);
    expect(check(await production(), 'db.login').status).toBe('pass');

    await setDbEndpoint(rogue.host);
    try {
      const status = await production();
      expect(check(status, 'rds.endpoint-match').status).toBe('fail');
      expect(check(status, 'db.login')).toMatchObject({ status: 'skip', evidence: { blockedBy: expect.stringContaining('rds.endpoint-match') } });
      const diagnosis = await diagnoseEnvironment(viewer, 'production', { fresh: true });
      expect(diagnosis.rootCause).toBe('rds.endpoint-match');

      expect(await startRotation(operator, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: true });
      await rotationWorkSettled('production');
      const rotation = await waitForRotation('production', finished);
      // The rotation logged in at RDS's endpoint (test-login passed); only the restarted backends,
      // which build DATABASE_URL from db-endpoint, went to the rogue, so their rollout stopped.
      expect(rotation.steps.find((s) => s.name === 'test-login')?.status).toBe('done');
      expect(rotation.steps.find((s) => s.name === 'restart')?.status).toBe('failed');

      const fromConsole = rogue.received.filter((r) => r.parameters.application_name === CONSOLE_APPLICATION);
      const fromOthers = rogue.received.filter((r) => r.parameters.application_name !== CONSOLE_APPLICATION);
      expect(fromConsole).toEqual([]);
      // What a client that follows db-endpoint gives away: the backends sent the new password in clear.
      const current = (await storedPasswords(lab)).current!.value;
      expect(fromOthers.map((r) => r.password)).toContain(current);
    } finally {
      await setDbEndpoint(lab.rdsEndpoint.host);
    }
    await redeployed();
    expect(await healthStatuses(lab)).toEqual(lab.instances.map(() => 200));
    expect(check(await production(), 'db.login').status).toBe('pass');
  });

  it('never to a server that cannot prove it is the RDS instance: another CA, another name or no TLS fails db.login with the TLS reason, and no password is sent', async () => {
    const { lab } = world;
    const cases = [
      { mode: 'other-ca-tls', code: 'tls-untrusted' },
      { mode: 'wrong-name-tls', code: 'tls-wrong-name' },
      { mode: 'cleartext-password', code: 'tls-refused' },
    ] as const;
    for (const c of cases) {
      const rogue = await startRogueListener({ mode: c.mode, labCa: { certPath: lab.tlsCaPath, keyPath: lab.tlsCaKeyPath } });
      rogues.push(rogue);
      // A tunnel that leads to the wrong server: the console still verifies by the name RDS reports.
      configureProduction({ host: rogue.host, port: rogue.port });
      const login = check(await production(), 'db.login');
      expect(login, c.mode).toMatchObject({ status: 'fail', evidence: { errorCode: c.code } });
      expect(login.summary).toMatch(/did not prove it is .*no password was sent/);
      expect(login.summary).not.toMatch(/password in SSM|Authentication failed/);
      expect(rogue.received, c.mode).toEqual([]);
    }
  });
});
