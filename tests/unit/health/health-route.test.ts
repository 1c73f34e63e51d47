import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GET } from '@/app/api/health/route';
import { setConfigForTests } from '@/lib/config/load';
import { closeStoreForTests } from '@/lib/store';

// /api/health, the load balancer's readiness check: ready when the environments file is valid and the
// store answers; otherwise 503 saying which, and never where the file or the store is.

const dir = mkdtempSync(join(tmpdir(), 'linkbox-health-'));
const saved = Object.fromEntries(['LINKBOX_CONFIG', 'AUDIT_SQLITE_PATH', 'AUDIT_DATABASE_URL'].map((k) => [k, process.env[k]]));

beforeAll(() => {
  process.env.LINKBOX_CONFIG = join(dir, 'linkbox.config.json');
  setConfigForTests({ mode: 'lab', environments: [{ name: 'local', kind: 'local' }] });
});

afterEach(async () => {
  delete process.env.AUDIT_DATABASE_URL;
  process.env.LINKBOX_CONFIG = join(dir, 'linkbox.config.json');
  await closeStoreForTests();
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

async function health(): Promise<{ status: number; body: Record<string, string>; text: string }> {
  const res = await GET();
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, string>, text };
}

describe('GET /api/health', () => {
  it('is ready when the config is valid and the store answers', async () => {
    process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok', config: 'ok', store: 'ok' } });
  });

  it('is not ready when the store does not answer, and does not say where it is', async () => {
    process.env.AUDIT_DATABASE_URL = 'postgresql://console:do-not-echo@127.0.0.1:1/console';
    const answer = await health();
    expect(answer).toMatchObject({ status: 503, body: { status: 'unavailable', config: 'ok', store: 'unreachable' } });
    expect(answer.text).not.toMatch(/do-not-echo|127\.0\.0\.1/);
  });

  it('is not ready when the environments file cannot be read', async () => {
    process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
    process.env.LINKBOX_CONFIG = join(dir, 'missing.json');
    const answer = await health();
    expect(answer).toMatchObject({ status: 503, body: { status: 'unavailable', config: 'invalid', store: 'ok' } });
    expect(answer.text).not.toContain(dir);
  });
});
