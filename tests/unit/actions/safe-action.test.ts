import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { restartContainersAction } from '@/lib/actions/restart-containers';
import { rollbackRotationAction } from '@/lib/actions/rollback-rotation';
import { confirmedEnvironmentInput, environmentAction, MAX_ACTION_INPUT_BYTES } from '@/lib/actions/safe-action';
import { startRotationAction } from '@/lib/actions/start-rotation';
import { listAudit, type AuditEntry } from '@/lib/audit';
import { closeStoreForTests, getStore } from '@/lib/store';
import type { Caller } from '@/lib/roles';
import { setConfigForTests } from '@/lib/config/load';

// The session is the one part faked here: it needs a browser's cookie and a request. The audit log
// is the real store (SQLite in a temp dir), and the config points AWS at a port nothing listens on,
// so any call that slipped past the builder would fail loudly instead of passing.

const session = vi.hoisted(() => ({ current: null as null | { caller: Caller; authTime: number | null; kind: 'sign-in' } }));
vi.mock('@/lib/auth/session', () => ({
  getSessionInfo: async () => session.current,
  signInPath: (returnTo: string) => `/signin?callbackUrl=${encodeURIComponent(returnTo)}`,
  signInAgainPath: (returnTo: string) => `/signin?reauth=1&callbackUrl=${encodeURIComponent(returnTo)}`,
}));

const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };
const admin: Caller = { id: 'admin@linkbox.lab', role: 'admin', via: 'session' };
const now = () => Math.floor(Date.now() / 1000);

let dir: string;

function useConfig(m: 'lab' | 'aws') {
  setConfigForTests({
    mode: m,
    environments: [
      {
        name: 'production',
        kind: 'aws',
        region: 'us-east-1',
        credentials: m === 'lab' ? { source: 'lab' } : { source: 'default' },
        endpoint: 'http://127.0.0.1:9',
        rdsInstanceId: 'linkbox-db',
        dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
        backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
        backendInstances: { tags: { Name: 'linkbox-backend' } },
      },
      { name: 'local', kind: 'local' },
    ],
  });
}

function signIn(caller: Caller, authTime: number | null = now()) {
  session.current = { caller, authTime, kind: 'sign-in' };
}

async function audit(): Promise<AuditEntry[]> {
  return listAudit(admin, { limit: 50 });
}

/** A builder-made action whose run only records that it ran. */
function probeAction() {
  const run = vi.fn(async (_ctx: { caller: Caller; input: Record<string, unknown> }) => ({ ok: true, message: 'ran' }));
  const action = environmentAction({
    action: 'probe.run',
    what: 'probing',
    role: 'operator',
    schema: confirmedEnvironmentInput,
    page: (environment) => `/environments/${environment}/probe`,
    run,
  });
  return { action, run };
}

function form(fields: Record<string, string>): FormData {
  const data = new FormData();
  for (const [k, v] of Object.entries(fields)) data.append(k, v);
  return data;
}

const valid = { environment: 'production', confirmEnvironment: 'production' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'actions-test-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
});

afterAll(async () => {
  await closeStoreForTests();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  useConfig('lab');
  signIn(operator);
  const store = await getStore();
  await store.db.deleteFrom('audit_log').execute();
});

describe('the action builder', () => {
  it('runs the action for an operator who confirmed the name and signed in recently', async () => {
    const { action, run } = probeAction();
    const state = await action({}, form(valid));
    expect(state).toEqual({ ok: true, message: 'ran' });
    expect(run).toHaveBeenCalledTimes(1);
    const ctx = run.mock.calls[0]![0];
    expect(ctx.caller).toEqual(operator);
    expect(ctx.input).toEqual({ environment: 'production', confirmEnvironment: 'production' });
  });

  it("ignores React's hidden $ACTION_ fields, which a server-rendered form submits after hydration", async () => {
    const { action, run } = probeAction();
    const state = await action({}, form({ $ACTION_REF_1: '', '$ACTION_1:0': '{"id":"abc","bound":"$@1"}', '$ACTION_1:1': '[{}]', $ACTION_KEY: 'k0', ...valid }));
    expect(state).toEqual({ ok: true, message: 'ran' });
    expect(run.mock.calls[0]![0].input).toEqual({ environment: 'production', confirmEnvironment: 'production' });
  });

  it('accepts the same input as a plain object, as a scripted call sends it', async () => {
    const { action, run } = probeAction();
    expect(await action(undefined, { ...valid })).toEqual({ ok: true, message: 'ran' });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('refuses fields the action does not take, without repeating their names, and audits it', async () => {
    const { action, run } = probeAction();
    const state = await action({}, form({ ...valid, instanceIds: 'i-1;rm -rf /' }));
    expect(state.error).toMatch(/fields this action does not take/);
    expect(state.error).not.toContain('instanceIds');
    expect(run).not.toHaveBeenCalled();
    const [entry] = await audit();
    expect(entry).toMatchObject({ actor: operator.id, role: 'operator', action: 'probe.run', environment: 'production', outcome: 'refused' });
    expect(entry!.detail).toMatch(/rejected before any AWS call/);
    expect(entry!.detail).not.toContain('instanceIds');
  });

  it('refuses wrong types', async () => {
    const { action, run } = probeAction();
    const state = await action({}, { environment: 'production', confirmEnvironment: ['production'] });
    expect(state.error).toMatch(/confirmEnvironment is missing or invalid/);
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses a payload that is not a form at all', async () => {
    const { action, run } = probeAction();
    for (const payload of ['production', 42, null, ['production', 'production'], new Map([['environment', 'production']])]) {
      expect((await action({}, payload)).error).toMatch(/not a form this action understands/);
    }
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses oversized input, from a form or as an object', async () => {
    const { action, run } = probeAction();
    const big = 'x'.repeat(MAX_ACTION_INPUT_BYTES);
    expect((await action({}, form({ ...valid, confirmEnvironment: big }))).error).toMatch(/too large/);
    expect((await action({}, { ...valid, imageTag: big })).error).toMatch(/too large/);
    expect(run).not.toHaveBeenCalled();
    const entries = await audit();
    expect(entries).toHaveLength(2);
    expect(entries.every((e) => e.outcome === 'refused' && /larger than/.test(e.detail ?? ''))).toBe(true);
  });

  it('refuses a file and a repeated field', async () => {
    const { action, run } = probeAction();
    const withFile = form(valid);
    withFile.append('upload', new Blob(['x']), 'x.txt');
    expect((await action({}, withFile)).error).toMatch(/files/);
    const repeated = form(valid);
    repeated.append('environment', 'staging');
    expect((await action({}, repeated)).error).toMatch(/repeats a field/);
    expect(run).not.toHaveBeenCalled();
  });

  it('refuses an environment that is not configured, and one that is local', async () => {
    const { action, run } = probeAction();
    const other = await action({}, form({ environment: 'staging', confirmEnvironment: 'staging' }));
    expect(other.error).toBe('There is no environment named "staging".');
    const local = await action({}, form({ environment: 'local', confirmEnvironment: 'local' }));
    expect(local.error).toMatch(/local environment/);
    const bad = await action({}, form({ environment: '../production', confirmEnvironment: '../production' }));
    expect(bad.error).toMatch(/environment is missing or invalid/);
    expect(run).not.toHaveBeenCalled();
    const entries = await audit();
    expect(entries.map((e) => e.outcome)).toEqual(['refused', 'refused', 'refused']);
    // An unknown name is the sender's text: it is not filed as an environment.
    expect(entries.find((e) => /staging/.test(e.detail ?? ''))!.environment).toBeNull();
  });

  it('refuses a confirmation that names another environment, and audits it under the real one', async () => {
    const { action, run } = probeAction();
    const state = await action({}, form({ ...valid, confirmEnvironment: 'Production' }));
    expect(state.error).toMatch(/confirmation does not match/);
    expect(run).not.toHaveBeenCalled();
    expect((await audit())[0]).toMatchObject({ environment: 'production', outcome: 'refused', detail: 'the typed confirmation does not match the environment name' });
  });

  it('refuses a viewer before looking at the payload, and audits who tried', async () => {
    signIn(viewer);
    const { action, run } = probeAction();
    const state = await action({}, form(valid));
    expect(state.error).toBe('You are signed in as viewer; probing needs operator.');
    expect(run).not.toHaveBeenCalled();
    expect((await audit())[0]).toMatchObject({ actor: viewer.id, role: 'viewer', action: 'probe.run', environment: 'production', outcome: 'refused' });
  });

  it('lets an admin do what an operator may', async () => {
    signIn(admin);
    const { action, run } = probeAction();
    expect(await action({}, form(valid))).toEqual({ ok: true, message: 'ran' });
    expect(run).toHaveBeenCalledTimes(1);
  });

  it('refuses a signed-out request with a way to sign in, and audits it as anonymous', async () => {
    session.current = null;
    const { action, run } = probeAction();
    const state = await action({}, form(valid));
    expect(state.error).toMatch(/session has ended/);
    expect(state.signInUrl).toBe('/signin?callbackUrl=%2Fenvironments%2Fproduction%2Fprobe');
    expect(run).not.toHaveBeenCalled();
    expect((await audit())[0]).toMatchObject({ actor: 'anonymous', role: null, outcome: 'refused' });
  });

  it('turns a thrown error into {error} with a reference, never its message, and audits the failure', async () => {
    const action = environmentAction({
      action: 'probe.run',
      what: 'probing',
      role: 'operator',
      schema: confirmedEnvironmentInput,
      page: () => '/',
      run: async () => {
        throw new Error('connect failed for postgresql://linkbox:hunter2@db/linkbox');
      },
    });
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const state = await action({}, form(valid));
    expect(state.error).toMatch(/unexpected problem .*reference [0-9a-f]{8}/);
    expect(state.error).not.toContain('hunter2');
    expect(logged.mock.calls.flat().join(' ')).not.toContain('hunter2');
    logged.mockRestore();
    const [entry] = await audit();
    expect(entry).toMatchObject({ outcome: 'failure', environment: 'production' });
    expect(entry!.detail).not.toContain('hunter2');
  });

  it('keeps extended schemas strict', async () => {
    const run = vi.fn(async () => ({ ok: true }));
    const action = environmentAction({
      action: 'probe.run',
      what: 'probing',
      role: 'operator',
      schema: confirmedEnvironmentInput.extend({ imageTag: z.string().optional() }),
      page: () => '/',
      run,
    });
    expect((await action({}, form({ ...valid, imageTag: 'v2' }))).ok).toBe(true);
    expect((await action({}, form({ ...valid, imageTag: 'v2', command: 'reboot' }))).error).toMatch(/fields this action does not take/);
    expect(run).toHaveBeenCalledTimes(1);
  });
});

describe('re-authentication in the builder', () => {
  it('runs for an IdP sign-in 14 minutes old and refuses one 16 minutes old with a "sign in again" link, audited', async () => {
    const { action, run } = probeAction();
    signIn(operator, now() - 14 * 60);
    expect((await action({}, form(valid))).ok).toBe(true);
    signIn(operator, now() - 16 * 60);
    const stale = await action({}, form(valid));
    expect(stale.error).toMatch(/sign-in from the last 15 minutes/);
    expect(stale.signInUrl).toBe('/signin?reauth=1&callbackUrl=%2Fenvironments%2Fproduction%2Fprobe');
    expect(run).toHaveBeenCalledTimes(1);
    expect((await audit())[0]).toMatchObject({ actor: operator.id, outcome: 'refused', detail: 're-authentication needed: stale-sign-in' });
  });

  it('refuses a session whose IdP never said when the person signed in', async () => {
    const { action, run } = probeAction();
    signIn(operator, null);
    expect((await action({}, form(valid))).signInUrl).toMatch(/reauth=1/);
    expect(run).not.toHaveBeenCalled();
  });

  it('takes no password field: a form that sends one is refused before anything runs', async () => {
    const { action, run } = probeAction();
    expect((await action({}, form({ ...valid, password: 'typed-guess-77' }))).error).toMatch(/fields this action does not take/);
    expect(run).not.toHaveBeenCalled();
    expect(JSON.stringify(await audit())).not.toContain('typed-guess-77');
  });
});

describe('the rotation and redeploy actions', () => {
  const actions = { startRotationAction, rollbackRotationAction, restartContainersAction };

  it.each(Object.entries(actions))('%s refuses a viewer and audits the refusal', async (_name, action) => {
    signIn(viewer);
    const state = await action({}, form(valid));
    expect(state.error).toMatch(/signed in as viewer; .* needs operator/);
    expect((await audit())[0]).toMatchObject({ actor: viewer.id, role: 'viewer', environment: 'production', outcome: 'refused' });
  });

  it.each(Object.entries(actions))('%s refuses a forged payload for another environment before any AWS call', async (_name, action) => {
    const state = await action({}, { environment: 'staging', confirmEnvironment: 'staging' });
    expect(state.error).toBe('There is no environment named "staging".');
  });

  it('restart-containers refuses an image tag that could reach a command line', async () => {
    for (const imageTag of ['v1; reboot', '$(id)', '-v', 'a'.repeat(200)]) {
      const state = await restartContainersAction({}, form({ ...valid, imageTag }));
      expect(state.error).toMatch(/imageTag is missing or invalid|too large/);
    }
    expect((await audit()).every((e) => e.outcome === 'refused')).toBe(true);
  });

  it('start-rotation passes an accepted request to the rotation, which reports what it could not do as {error}', async () => {
    // AWS is unreachable in this config: the rotation's preflight must report it, not throw it.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    const state = await startRotationAction({}, form(valid));
    logged.mockRestore();
    expect(state.ok).toBeUndefined();
    expect(state.error).toMatch(/cannot reach the AWS endpoint/);
    expect((await audit()).some((e) => e.actor === operator.id && e.action.startsWith('rotation'))).toBe(true);
  }, 60_000);
});
