import { describe, expect, it } from 'vitest';
import { createAwsContext } from '@/lib/checks/context';
import { runChecks } from '@/lib/checks/run';
import type { CheckId, CheckResult, CheckStatus, Evidence } from '@/lib/checks/types';
import { awsEnvironmentSchema } from '@/lib/config/schema';
import { loginPathStep } from '@/lib/runbooks/steps/login-path';

// backend.login-path reads what the status found (no AWS call) and, when the console's login and a
// backend's disagree, names what differs between the two paths instead of repeating the symptom.

const env = awsEnvironmentSchema.parse({
  name: 'unit-login-path',
  kind: 'aws',
  region: 'eu-west-1',
  credentials: { source: 'lab' },
  endpoint: 'http://127.0.0.1:1',
  rdsInstanceId: 'linkbox-db',
  dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
  backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
  backendInstances: { tags: { Name: 'linkbox-backend' } },
});

const HEALTHY = 'http://10.0.1.5/health: HTTP 200 in 3 ms';
const AUTH_FAILED = 'http://10.0.2.6/health: HTTP 503 in 9 ms: {"status":"unhealthy","error":"FATAL: password authentication failed for user \\"linkbox\\""}';
const TIMED_OUT = 'http://10.0.2.6/health: HTTP 503 in 9 ms: {"status":"unhealthy","error":"connection to server failed: timeout expired"}';

function result(id: CheckId, status: CheckStatus, summary = '', evidence: Evidence = {}): [string, Promise<CheckResult<string>>] {
  return [id, Promise.resolve({ id, status, summary, evidence })];
}

async function step(results: Array<[string, Promise<CheckResult<string>>]>) {
  const given = new Map(results);
  for (const id of ['db.backend-credentials', 'containers.fresh-credentials', 'net.instance-security-groups', 'net.network-acls'] as CheckId[]) {
    if (!given.has(id)) given.set(...result(id, 'pass', 'fine'));
  }
  const ctx = createAwsContext(env, { budgetMs: 1000, ttlMs: 0, fresh: true });
  const [r] = await runChecks([loginPathStep], ctx, { dependencies: () => [], given }).all;
  return r!;
}

describe('backend.login-path', () => {
  it('passes when both sides log in', async () => {
    const r = await step([result('db.login', 'pass'), result('containers.health', 'pass', '', { 'i-a': HEALTHY, 'i-b': HEALTHY })]);
    expect(r).toMatchObject({ status: 'pass', summary: 'The console and every running backend log in' });
  });

  it('names the credentials as parsed when the console logs in and a backend is refused', async () => {
    const r = await step([
      result('db.login', 'pass'),
      result('containers.health', 'fail', '', { 'i-a (web)': HEALTHY, 'i-b (web)': AUTH_FAILED }),
      result('db.backend-credentials', 'fail', 'The backends would log in with another password than /linkbox/db-password holds', { backendSslmode: 'prefer' }),
    ]);
    expect(r.status).toBe('fail');
    expect(r.summary).toBe(
      'The console logs in with the SSM credentials, but i-b is refused the login. What differs: credentials as parsed — The backends would log in with another password than /linkbox/db-password holds (db.backend-credentials)',
    );
    expect(r.evidence).toMatchObject({ backends: 'i-a logs in, i-b fails (credentials)', "backends' TLS": 'sslmode prefer' });
  });

  it('names the network path, not the password, when the backend times out', async () => {
    const r = await step([
      result('db.login', 'pass'),
      result('containers.health', 'fail', '', { 'i-b': TIMED_OUT }),
      result('db.backend-credentials', 'pass', 'same'),
      result('net.network-acls', 'fail', 'i-b: the request into subnet-db-a is dropped by acl-db'),
    ]);
    expect(r.summary).toContain('i-b cannot reach the database. What differs: source network (network ACLs) — i-b: the request into subnet-db-a is dropped by acl-db (net.network-acls)');
  });

  it('says the difference is outside its view when every path check matches, and gives the log command', async () => {
    const r = await step([result('db.login', 'pass'), result('containers.health', 'fail', '', { 'i-b': AUTH_FAILED })]);
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('the difference is outside what the console can see');
    expect(r.fix?.commands?.[0]).toContain('docker logs --tail 50 linkbox-backend');
  });

  it('explains backends that log in while the console cannot: they hold what SSM no longer does', async () => {
    const r = await step([
      result('db.login', 'fail', 'Authentication failed for linkbox'),
      result('containers.health', 'pass', '', { 'i-a': HEALTHY }),
      result('containers.fresh-credentials', 'fail', 'i-a started with another password than the current one'),
    ]);
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('but i-a logs in: they started with the previous password, which the database still accepts');
  });

  it('has nothing to compare when the console could not log in at all', async () => {
    const r = await step([result('db.login', 'skip'), result('containers.health', 'fail', '', { 'i-b': TIMED_OUT })]);
    expect(r).toMatchObject({ status: 'skip', summary: 'Nothing to compare: db.login is skip' });
  });
});
