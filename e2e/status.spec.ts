import { mkdirSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { signIn, signOut } from './support/auth';
import { fast, restoreIngress, revokeBackendIngress, slowAws, type RevokedRule } from './support/lab';

// The status console end to end: the lab's real AWS APIs, PostgreSQL and backends, the console built
// and started by `npm start`, Debian Chromium. Specs share one lab, so this one restores what it breaks.

const ARTIFACTS = 'e2e/artifacts';

function environmentRow(page: Page, name: string) {
  return page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}\\b`) }) });
}

async function screenshot(page: Page, name: string, testInfo: import('@playwright/test').TestInfo) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test('a viewer sees production and local healthy, production broken at sg.backend-ingress once the DB group stops admitting the backends, then signs out', async ({
  page,
}, testInfo) => {
  await signIn(page, 'viewer');

  await expect(page.getByRole('heading', { level: 1, name: 'Environments' })).toBeVisible();
  await expect(environmentRow(page, 'production')).toContainText('Healthy');
  await expect(environmentRow(page, 'local')).toContainText('Healthy');
  await expect(environmentRow(page, 'production')).toContainText('None');

  await page.getByRole('link', { name: 'production', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'production' })).toBeVisible();
  for (const section of ['SSM', 'RDS', 'Network', 'Database', 'Containers']) {
    await expect(page.getByRole('region', { name: section })).toBeVisible();
  }
  await expect(page.getByRole('article', { name: /sg\.backend-ingress/ })).toContainText('Pass');
  await expect(page.getByRole('region', { name: 'SSM' })).toContainText(/Password: SecureString, version \d+, changed (today|\d+ days? ago)/);
  await expect(page.getByRole('link', { name: 'Rotate password' })).toHaveCount(0);
  await screenshot(page, 'status-production-healthy', testInfo);

  let revoked: RevokedRule | undefined;
  try {
    revoked = await revokeBackendIngress();
    // "Refresh now" is served a status younger than the minimum age (5 s): press until a fresh one shows.
    const ingress = page.getByRole('article', { name: /sg\.backend-ingress/ });
    await expect(async () => {
      await page.getByRole('button', { name: 'Refresh now' }).click();
      await expect(ingress).toContainText('Fail', { timeout: 3000 });
    }).toPass({ timeout: 45_000 });
    await expect(ingress).toContainText('Root cause');
    await expect(ingress.locator('code').first()).toContainText('authorize-security-group-ingress');
    const rootCause = page.getByRole('alert', { name: 'Root cause' });
    await expect(rootCause).toContainText('sg.backend-ingress');
    await expect(page.getByRole('main').locator('[data-overall]').first()).toHaveAttribute('data-overall', 'broken');
    await screenshot(page, 'status-production-sg-revoked', testInfo);

    await page.getByRole('link', { name: 'Environments' }).first().click();
    await expect(environmentRow(page, 'production')).toContainText('sg.backend-ingress');
    await expect(environmentRow(page, 'local')).toContainText('Healthy');

    // Back on the broken page, then the rule comes back (finally, below)...
    await page.getByRole('link', { name: 'production', exact: true }).click();
    await expect(page.getByRole('article', { name: /sg\.backend-ingress/ })).toContainText('Fail');
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  } finally {
    if (revoked) await restoreIngress(revoked);
  }

  // ...and the page comes back on its own: its auto-refresh re-renders it in place once the cached
  // broken status has aged out — no click, no reload of the document.
  await expect(page.getByRole('article', { name: /sg\.backend-ingress/ })).toContainText('Pass', { timeout: 90_000 });
  expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
  // The DB network admits again a moment after the rule is back; leave production healthy (and the
  // shared cache holding a healthy status) for the next test.
  await expect
    .poll(async () => ((await (await page.request.get('/api/v1/environments/production/status?fresh=1')).json()) as { overall: string }).overall, { timeout: 60_000 })
    .toBe('healthy');

  await signOut(page);
  await page.goto('/environments/production');
  await expect(page).toHaveURL(/\/signin\?callbackUrl=%2Fenvironments%2Fproduction/);
});

test('the environment page shows each panel as its checks answer: SSM and RDS while the containers\' Run Command is still out', async ({ page }) => {
  await signIn(page, 'viewer', '/environments/production');
  const slow = await slowAws('ssm', 'SendCommand', 3000);
  try {
    const containers = page.getByRole('region', { name: 'Containers' });
    await expect(async () => {
      // `commit`: the load event waits for the whole stream, and this looks at it while it flows.
      await page.goto('/environments/production?fresh=1', { waitUntil: 'commit' });
      await expect(page.getByRole('region', { name: 'SSM' })).toHaveAttribute('data-answered', 'true', { timeout: 2500 });
      await expect(page.getByRole('region', { name: 'RDS' })).toHaveAttribute('data-answered', 'true', { timeout: 100 });
      // In the same look: the panel can answer a moment later, and then its running rows are gone.
      await expect(containers).toHaveAttribute('data-answered', 'false', { timeout: 100 });
      await expect(containers.locator('[data-status="running"]').first()).toBeVisible({ timeout: 100 });
    }).toPass({ timeout: 45_000 });
    await expect(containers).toHaveAttribute('data-answered', 'true', { timeout: 15_000 });
    await expect(page.getByRole('article', { name: /containers\.running/ })).toContainText('Pass');
    await expect(page.getByRole('figure', { name: 'The database path' })).toBeVisible();
  } finally {
    await fast(slow);
  }
});

test('an unknown environment is the not-found page, and its API answer is a 404 JSON error', async ({ page }) => {
  await signIn(page, 'viewer');
  const response = await page.goto('/environments/no-such-env');
  expect(response?.status()).toBe(404);
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();

  const api = await page.request.get('/api/v1/environments/no-such-env/status');
  expect(api.status()).toBe(404);
  expect(await api.json()).toEqual({ error: 'no environment named "no-such-env"' });
});

test('the JSON API gives a signed-in browser each check with id, status, summary and evidence, and fresh=1 refetches once the status is older than the minimum age', async ({ page }) => {
  await signIn(page, 'viewer');
  const first = await page.request.get('/api/v1/environments/production/status');
  expect(first.status()).toBe(200);
  const body = (await first.json()) as { environment: string; overall: string; rootCause: string | null; checkedAt: string; checks: Array<Record<string, unknown>> };
  expect(body).toMatchObject({ environment: 'production', overall: 'healthy', rootCause: null });
  expect(body.checks.map((c) => c.id)).toContain('sg.backend-ingress');
  for (const check of body.checks) expect(Object.keys(check)).toEqual(expect.arrayContaining(['id', 'status', 'summary', 'evidence']));

  const freshCheckedAt = async () => Date.parse(((await (await page.request.get('/api/v1/environments/production/status?fresh=1')).json()) as { checkedAt: string }).checkedAt);
  await expect.poll(freshCheckedAt, { timeout: 20_000, intervals: [1000] }).toBeGreaterThan(Date.parse(body.checkedAt));

  const list = (await (await page.request.get('/api/v1/environments')).json()) as { environments: Array<{ environment: string }> };
  expect(list.environments.map((e) => e.environment).sort()).toEqual(['local', 'production']);
});

test('an operator is offered "Rotate password" and "Restart containers" on production; a viewer is not', async ({ page }) => {
  await signIn(page, 'operator', '/environments/production');
  const actions = page.getByRole('navigation', { name: 'Environment actions' });
  await expect(actions.getByRole('link', { name: 'Rotate password' })).toHaveAttribute('href', '/environments/production/rotate');
  await expect(actions.getByRole('link', { name: 'Restart containers' })).toBeVisible();
  await signOut(page);

  await signIn(page, 'viewer', '/environments/production');
  await expect(page.getByRole('heading', { level: 1, name: 'production' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Rotate password' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Restart containers' })).toHaveCount(0);
});
