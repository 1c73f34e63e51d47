import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDatabaseUrl } from '@/lib/checks/local';
import { maskUrlPassword } from '@/lib/redact';
import type { CheckId, EnvironmentStatus } from '@/lib/checks/types';
import { getEnvironmentStatus } from '@/lib/status';
import { closedPort, startFakePostgres, startHealthServer, setTestConfig, VIEWER } from './support';

const LOCAL_PASSWORD = 'local-dev-Password-9';
let pg: Awaited<ReturnType<typeof startFakePostgres>>;
let health: Awaited<ReturnType<typeof startHealthServer>>;
let dir: string;

beforeAll(async () => {
  pg = await startFakePostgres(LOCAL_PASSWORD);
  health = await startHealthServer(200);
  dir = await mkdtemp(join(tmpdir(), 'linkbox-local-'));
});
afterAll(async () => {
  await Promise.all([pg.close(), health.close(), rm(dir, { recursive: true, force: true })]);
});

async function localStatus(envFileText: string | null, defaultDatabaseUrl = `postgresql://linkbox_user:${LOCAL_PASSWORD}@127.0.0.1:${pg.port}/linkbox_dev`) {
  const envFile = join(dir, `${Math.random().toString(36).slice(2)}.env`);
  if (envFileText !== null) await writeFile(envFile, envFileText);
  setTestConfig({ dbPort: 1, healthUrls: {}, local: { envFile, defaultDatabaseUrl, backendUrl: health.url.replace('/health', '') } });
  return getEnvironmentStatus(VIEWER, 'local', { fresh: true });
}
const check = (s: EnvironmentStatus, id: CheckId) => s.checks.find((c) => c.id === id)!;

describe('local.database-url', () => {
  it('passes with the default when there is no .env file, and shows the URL masked', async () => {
    const s = await localStatus(null);
    expect(s.checks.map((c) => [c.id, c.status])).toEqual([
      ['containers.health', 'pass'],
      ['local.database-url', 'pass'],
    ]);
    const c = check(s, 'local.database-url');
    expect(c.evidence.databaseUrl).toBe(`postgresql://linkbox_user:****@127.0.0.1:${pg.port}/linkbox_dev`);
    expect(c.evidence.source).toContain('default');
    expect(JSON.stringify(s)).not.toContain(LOCAL_PASSWORD);
    expect(s.overall).toBe('healthy');
  });

  it('uses the DATABASE_URL line of the .env file over the default', async () => {
    const s = await localStatus(`# dev\nexport DATABASE_URL="postgresql://linkbox_user:wrong-pass@127.0.0.1:${pg.port}/linkbox_dev"\n`);
    const c = check(s, 'local.database-url');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('Authentication failed for linkbox_user');
    expect(String(c.evidence.source)).toContain('.env (DATABASE_URL line)');
    expect(JSON.stringify(s)).not.toContain('wrong-pass');
    expect(s.rootCause).toBe('local.database-url');
  });

  it('names "nothing listening" when the port refuses', async () => {
    const port = await closedPort();
    const s = await localStatus(`DATABASE_URL=postgresql://linkbox_user:x@127.0.0.1:${port}/linkbox_dev\n`);
    const c = check(s, 'local.database-url');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('nothing listening');
    expect(c.fix?.commands).toContain('cd backend && docker-compose up -d db');
  });

  it('fails a malformed URL before connecting', async () => {
    const c = check(await localStatus('DATABASE_URL=mysql://u:p@localhost/db\n'), 'local.database-url');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('malformed');
  });

  it('parses postgres URLs as libpq does and masks only the password', () => {
    expect(parseDatabaseUrl('postgresql://u:p%40ss@db.example:6543/app')).toMatchObject({ host: 'db.example', port: 6543, user: 'u', password: 'p@ss', database: 'app' });
    expect(parseDatabaseUrl('postgresql://u:p@db/')).toMatchObject({ problem: 'no database name after the host' });
    expect(maskUrlPassword('postgresql://u:secret@h:5432/d')).toBe('postgresql://u:****@h:5432/d');
    expect(maskUrlPassword('postgresql://u@h/d')).toBe('postgresql://u@h/d');
  });
});

describe('the local backend /health', () => {
  it('fails when nothing listens on the backend URL', async () => {
    const port = await closedPort();
    setTestConfig({ dbPort: 1, healthUrls: {}, local: { backendUrl: `http://127.0.0.1:${port}`, defaultDatabaseUrl: `postgresql://linkbox_user:${LOCAL_PASSWORD}@127.0.0.1:${pg.port}/linkbox_dev` } });
    const s = await getEnvironmentStatus(VIEWER, 'local', { fresh: true });
    expect(check(s, 'containers.health')).toMatchObject({ status: 'fail' });
    expect(check(s, 'containers.health').summary).toContain('Nothing is listening');
  });
});
