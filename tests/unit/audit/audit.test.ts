import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { listAudit, recordAudit } from '@/lib/audit';
import { closeStoreForTests, getStore } from '@/lib/store';
import type { Caller } from '@/lib/roles';
import { setConfigForTests } from '@/lib/config/load';
import { startRedeploy } from '@/lib/deploy';
import { backendRestartLines } from '@/lib/aws/run-command';
import { parseConfig } from '@/lib/config/load';
import { rollbackRotation, startRotation } from '@/lib/rotation';
import { acquireLock } from '@/lib/operations/lock';
import { insertRotation, newRotationRecord } from '@/lib/operations/records';
import { ROTATION_STEPS } from '@/lib/rotation/types';

const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'audit-test-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
  // An endpoint nothing listens on: none of these refusals may reach AWS.
  setConfigForTests({
    mode: 'lab',
    environments: [
      {
        name: 'production',
        kind: 'aws',
        region: 'us-east-1',
        credentials: { source: 'lab' },
        endpoint: 'http://127.0.0.1:9',
        rdsInstanceId: 'linkbox-db',
        dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
        backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
        backendInstances: { tags: { Name: 'linkbox-backend' } },
      },
      { name: 'local', kind: 'local' },
    ],
  });
});

afterAll(async () => {
  await closeStoreForTests();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  const store = await getStore();
  await store.db.deleteFrom('audit_log').execute();
  await store.db.deleteFrom('console_locks').execute();
});

describe('the audit log', () => {
  it('keeps who, role, action, environment, outcome and step timings, newest first', async () => {
    await recordAudit({ actor: 'a@x', role: 'operator', action: 'rotation', environment: 'production', outcome: 'success', stepTimings: { promote: 120 } });
    await recordAudit({ actor: 'b@x', role: 'admin', action: 'redeploy', environment: 'staging', outcome: 'failure', detail: 'i-1 unhealthy' });
    const entries = await listAudit(viewer);
    expect(entries.map((e) => e.action)).toEqual(['redeploy', 'rotation']);
    expect(entries[1]).toMatchObject({ actor: 'a@x', role: 'operator', environment: 'production', outcome: 'success', stepTimings: { promote: 120 } });
    expect(Date.parse(entries[1]!.at)).not.toBeNaN();
  });

  it('filters by environment and honours the limit', async () => {
    for (let i = 0; i < 5; i++) await recordAudit({ actor: 'a', role: 'operator', action: `a${i}`, environment: i % 2 ? 'staging' : 'production', outcome: 'success' });
    expect((await listAudit(viewer, { environment: 'production' })).map((e) => e.action)).toEqual(['a4', 'a2', 'a0']);
    expect(await listAudit(viewer, { limit: 2 })).toHaveLength(2);
  });

  it('is readable by every signed-in role and by nobody else', async () => {
    await expect(listAudit(viewer)).resolves.toBeInstanceOf(Array);
    await expect(listAudit(null)).rejects.toThrow(/sign in/);
  });
});

describe('refusals are audited by the functions that refuse', () => {
  it('a viewer starting a rotation is refused and audited', async () => {
    const result = await startRotation(viewer, 'production', { confirmEnvironment: 'production' });
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/needs operator/) });
    const [entry] = await listAudit(viewer);
    expect(entry).toMatchObject({ actor: viewer.id, role: 'viewer', action: 'rotation.start', environment: 'production', outcome: 'refused' });
  });

  it('an anonymous caller is refused and audited as anonymous', async () => {
    expect(await startRedeploy(null, 'production', { confirmEnvironment: 'production' })).toMatchObject({ ok: false, error: 'sign in first' });
    expect((await listAudit(viewer))[0]).toMatchObject({ actor: 'anonymous', role: null, action: 'redeploy.start', outcome: 'refused' });
  });

  it('a confirmation that does not match the environment is refused and audited', async () => {
    expect(await startRotation(operator, 'production', { confirmEnvironment: 'prod' })).toMatchObject({ ok: false, error: expect.stringMatching(/confirmation/) });
    expect(await rollbackRotation(operator, 'production', { confirmEnvironment: 'Production' })).toMatchObject({ ok: false });
    const entries = await listAudit(viewer);
    expect(entries.map((e) => [e.action, e.outcome])).toEqual([
      ['rotation.rollback.start', 'refused'],
      ['rotation.start', 'refused'],
    ]);
  });

  it('an unknown or local environment is refused', async () => {
    expect(await startRotation(operator, 'nope', { confirmEnvironment: 'nope' })).toMatchObject({ ok: false, error: expect.stringMatching(/no environment named/) });
    expect(await startRotation(operator, 'local', { confirmEnvironment: 'local' })).toMatchObject({ ok: false, error: expect.stringMatching(/local environment/) });
  });

  it('a request while another operation holds the lock is told who holds it, and audited', async () => {
    const held = await acquireLock('production', 'redeploy', 'd1', 'alice@linkbox.lab');
    expect(held.ok).toBe(true);
    const result = await startRotation(operator, 'production', { confirmEnvironment: 'production' });
    expect(result).toMatchObject({ ok: false, heldBy: { by: 'alice@linkbox.lab' } });
    expect((await listAudit(viewer))[0]).toMatchObject({ action: 'rotation.start', outcome: 'refused', detail: expect.stringMatching(/alice@linkbox\.lab/) });
  });

  it('a redeploy is refused while a rotation that stopped before promotion waits for its rollback', async () => {
    const record = newRotationRecord('r-stranded', 'production', operator.id, 'operator', ROTATION_STEPS);
    record.state = 'failed';
    record.rollbackOffered = true;
    await insertRotation(record);
    try {
      const result = await startRedeploy(operator, 'production', { confirmEnvironment: 'production' });
      expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/roll it back/) });
      expect((await listAudit(viewer))[0]).toMatchObject({ action: 'redeploy.start', outcome: 'refused' });
    } finally {
      await (await getStore()).db.deleteFrom('rotations').execute();
    }
  });

  it('an image tag outside the strict pattern is refused before anything runs', async () => {
    for (const tag of ['v1; rm -rf /', '$(reboot)', '-v1', 'a'.repeat(129), 'v1\nreboot', 'tag with space']) {
      expect(await startRedeploy(operator, 'production', { confirmEnvironment: 'production', imageTag: tag })).toMatchObject({ ok: false, error: expect.stringMatching(/image tag/) });
    }
  });
});

describe('the restart command lines', () => {
  const deploy = { deploy: { scriptsDir: '/opt/linkbox/scripts', imageRepository: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/linkbox-backend' } };

  it('are fixed text from the config, with a validated tag as the only variable part', () => {
    expect(backendRestartLines(deploy)).toEqual(['/opt/linkbox/scripts/stop_application.sh', '/opt/linkbox/scripts/start_application.sh']);
    expect(backendRestartLines(deploy, 'v1.2.3')[0]).toBe('export IMAGE_URI=123456789012.dkr.ecr.eu-west-1.amazonaws.com/linkbox-backend:v1.2.3');
    expect(() => backendRestartLines(deploy, 'v1 && curl evil')).toThrow(/image tag/);
  });

  it('refuses a config whose scripts folder or repository could carry shell text', () => {
    const base = { mode: 'aws', environments: [{ name: 'production', kind: 'aws', region: 'eu-west-1', rdsInstanceId: 'linkbox-db', dbSecurityGroup: { ids: ['sg-1'] }, backendSecurityGroup: { ids: ['sg-2'] }, backendInstances: { ids: ['i-1'] } }] };
    const withDeploy = (deploy: object) => JSON.stringify({ ...base, environments: [{ ...base.environments[0], deploy }] });
    expect(() => parseConfig(withDeploy({ scriptsDir: '/opt/x; reboot' }))).toThrow(/environments\[0\]\.deploy\.scriptsDir/);
    expect(() => parseConfig(withDeploy({ imageRepository: 'repo$(id)' }))).toThrow(/environments\[0\]\.deploy\.imageRepository/);
    expect(() => parseConfig(withDeploy({ scriptsDir: '/opt/linkbox/scripts', imageRepository: 'linkbox-backend' }))).not.toThrow();
  });
});
