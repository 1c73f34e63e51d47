import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentStatus } from '@/lib/checks/types';
import { setConfigForTests } from '@/lib/config/load';
import { renderMetrics } from '@/lib/metrics';
import type { Caller } from '@/lib/roles';
import { closeStoreForTests } from '@/lib/store';
import { recordLook } from '@/lib/watcher/observe';

// The ready-made alert rules (infra/monitoring/) are valid Prometheus rules, fire as their tests
// say, and name only metrics the console exports; and what /api/metrics serves passes promtool's
// own lint. promtool comes from Debian's prometheus package (scripts/install-system-deps.sh).

const run = promisify(execFile);
const monitoring = resolve(__dirname, '../../../infra/monitoring');
const token: Caller = { id: 'token:prometheus', role: 'viewer', via: 'token' };
let dir: string;
let exposition: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'metrics-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
  await closeStoreForTests();
  setConfigForTests({
    mode: 'aws',
    environments: [{ name: 'production', kind: 'aws', region: 'us-east-1', rdsInstanceId: 'linkbox-db', dbSecurityGroup: { ids: ['sg-1'] }, backendSecurityGroup: { ids: ['sg-2'] }, backendInstances: { ids: ['i-1'] } }],
  });
  const status: EnvironmentStatus = {
    environment: 'production',
    kind: 'aws',
    overall: 'broken',
    rootCause: 'db.login',
    checkedAt: new Date().toISOString(),
    stale: false,
    password: { type: 'SecureString', version: 2, lastModified: new Date(Date.now() - 86_400_000).toISOString() },
    checks: [{ id: 'db.login', status: 'fail', summary: 'password authentication failed', evidence: {}, durationMs: 12 }],
  };
  await recordLook(status, { intervalMs: 60_000, announceAfter: 1, publicUrl: null, targets: [] });
  exposition = (await renderMetrics(token)).body;
});

afterAll(async () => {
  await closeStoreForTests();
  rmSync(dir, { recursive: true, force: true });
});

/** Metric names a PromQL text can use for what the exposition declares (a histogram's series too). */
function exportedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(m[1]!);
    if (m[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m[1]! + suffix);
  }
  return names;
}

function unknownNames(yaml: string, exported: Set<string>): string[] {
  return [...new Set(yaml.match(/\blinkbox_[a-z_]+\b/g) ?? [])].filter((n) => !exported.has(n));
}

describe('the alert rules', () => {
  it('are valid Prometheus rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', join(monitoring, 'alerts.yml')]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire as their tests say (promtool test rules)', async () => {
    const { stdout } = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: monitoring });
    expect(stdout).toContain('SUCCESS');
  });

  it('name only metrics the console exports', () => {
    const exported = exportedNames(exposition);
    expect(exported.has('linkbox_environment_state')).toBe(true);
    for (const file of ['alerts.yml', 'alerts.test.yml']) {
      const text = readFileSync(join(monitoring, file), 'utf8');
      expect(text.match(/\blinkbox_[a-z_]+\b/g)?.length, `${file} names metrics`).toBeGreaterThan(5);
      expect(unknownNames(text, exported), file).toEqual([]);
    }
    expect(unknownNames('expr: linkbox_made_up_total > 0', exported)).toEqual(['linkbox_made_up_total']);
  });
});

describe('/api/metrics', () => {
  it('passes promtool check metrics (the exposition format and its naming rules)', async () => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    child.stdin.end(exposition);
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('says what the watcher last saw, by environment and check, and refuses anonymous callers', async () => {
    expect(exposition).toContain('linkbox_environment_state{environment="production",state="broken"} 1');
    expect(exposition).toContain('linkbox_environment_state{environment="production",state="healthy"} 0');
    expect(exposition).toContain('linkbox_check_state{environment="production",check="db.login",state="fail"} 1');
    expect(Number(/^linkbox_password_age_seconds\{environment="production"\} (\S+)$/m.exec(exposition)?.[1])).toBeGreaterThanOrEqual(86_400);
    await expect(renderMetrics(null)).rejects.toThrow('sign in first');
  });
});
