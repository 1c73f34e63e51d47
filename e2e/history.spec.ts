import { mkdirSync } from 'node:fs';
import { expect, test, type APIRequestContext } from '@playwright/test';
import { signIn } from './support/auth';
import { restoreIngress, revokeBackendIngress, type RevokedRule } from './support/lab';

// The watcher end to end: a fault caused with the AWS CLI becomes an incident in the environment
// page's history, with its root cause, start, end and duration, once it is cleared. The console
// runs the watcher every 5 s (playwright.config.ts). The metrics endpoint takes the API's tokens.

const ARTIFACTS = 'e2e/artifacts';

interface HistoryDto {
  incidents: Array<{ start: string; end: string | null; rootCauses: Array<{ check: string }> }>;
}

async function incidents(request: APIRequestContext): Promise<HistoryDto['incidents']> {
  const res = await request.get('/api/v1/environments/production/history');
  expect(res.status()).toBe(200);
  return ((await res.json()) as HistoryDto).incidents.filter((i) => i.rootCauses.some((c) => c.check === 'sg.backend-ingress'));
}

async function overall(request: APIRequestContext): Promise<string> {
  return ((await (await request.get('/api/v1/environments/production/status?fresh=1')).json()) as { overall: string }).overall;
}

test('the environment page shows the incident a revoked security-group rule caused, from start to end, with its root cause', async ({ page }, testInfo) => {
  await signIn(page, 'viewer');
  const before = (await incidents(page.request)).length;

  let revoked: RevokedRule | undefined;
  try {
    revoked = await revokeBackendIngress();
    await expect.poll(() => overall(page.request), { timeout: 60_000 }).toBe('broken');
    // The watcher's next look reads the status the API just computed, and records the change.
    await expect.poll(async () => (await incidents(page.request)).filter((i) => i.end === null).length, { timeout: 60_000 }).toBe(1);
  } finally {
    if (revoked) await restoreIngress(revoked);
  }
  await expect.poll(() => overall(page.request), { timeout: 60_000 }).toBe('healthy');
  await expect.poll(async () => (await incidents(page.request)).filter((i) => i.end !== null).length, { timeout: 60_000 }).toBe(before + 1);

  await page.goto('/environments/production');
  const history = page.getByRole('region', { name: 'History' });
  await expect(history).toBeVisible();
  const row = history.getByRole('table', { name: 'Incidents' }).getByRole('row').filter({ hasText: 'sg.backend-ingress' }).first();
  await expect(row).toContainText('Backends admitted to the database port');
  await expect(row).toContainText(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC.*\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC/);
  await expect(row).toContainText(/\d+(\.\d)? s|\d+ min/);
  await expect(row).not.toContainText('ongoing');
  // The strip says it in words too (readable without colour): a broken stretch in the last 24 hours.
  const day = history.getByRole('figure', { name: /Last 24 hours/ });
  await expect(day.getByRole('listitem').filter({ hasText: /^Broken from / })).not.toHaveCount(0);
  await expect(day).toContainText(/Healthy \d+(\.\d)?% of the checked time/);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}/history-incident.png`, fullPage: true });
  await testInfo.attach('history-incident', { path: `${ARTIFACTS}/history-incident.png`, contentType: 'image/png' });
});

test('/api/metrics answers a bearer token from OPS_API_TOKENS with Prometheus text, and refuses anonymous requests', async ({ request }) => {
  const anonymous = await request.get('/api/metrics');
  expect(anonymous.status()).toBe(401);
  const token = process.env.OPS_API_TOKENS!.split(',')[0]!.split(':').slice(1).join(':');
  const res = await request.get('/api/metrics', { headers: { Authorization: `Bearer ${token}` } });
  expect(res.status()).toBe(200);
  expect(res.headers()['content-type']).toContain('text/plain');
  const text = await res.text();
  expect(text).toMatch(/^linkbox_environment_state\{environment="production",state="healthy"\} 1$/m);
  expect(text).toMatch(/^linkbox_watcher_leader 1$/m);
  expect(text).toContain('# TYPE linkbox_aws_calls_total counter');
});
