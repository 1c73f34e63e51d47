import { mkdirSync, readFileSync } from 'node:fs';
import { expect, test, type Page, type TestInfo } from '@playwright/test';
import { signIn } from './support/auth';
import { fast, restoreIngress, revokeBackendIngress, slowAws, untilDiagnosedHealthy, type RevokedRule } from './support/lab';

// Troubleshooting end to end, as a viewer: the environment page's "Diagnose" leads to a diagnosis of
// the real lab; a fault caused with the AWS CLI is named and its runbook opens at the failing step;
// a pasted error message finds its runbook already run. Specs share one lab: this one restores it.

const ARTIFACTS = 'e2e/artifacts';

async function screenshot(page: Page, name: string, testInfo: TestInfo) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = `${ARTIFACTS}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  await testInfo.attach(name, { path, contentType: 'image/png' });
}

test('a viewer diagnoses production: healthy, then the revoked ingress rule is named and its runbook opens at the failing step', async ({ page }, testInfo) => {
  await signIn(page, 'viewer', '/environments/production');
  await page.getByRole('link', { name: 'Diagnose' }).click();
  await expect(page).toHaveURL(/\/environments\/production\/troubleshoot/);
  await expect(page.getByRole('heading', { level: 1, name: 'Troubleshoot production' })).toBeVisible();

  const diagnosis = page.getByRole('region', { name: 'Diagnosis' });
  await expect(diagnosis).toContainText('No root cause');
  await expect(diagnosis).toHaveAttribute('data-verdict', 'healthy');
  for (const title of ['Production: "Could not connect to server"', '"Authentication failed"', 'Container unhealthy']) {
    await expect(page.getByRole('link', { name: title })).toBeVisible();
  }
  await expect(page.getByRole('link', { name: 'Local: "Connection refused"' })).toHaveCount(0);

  let revoked: RevokedRule | undefined;
  try {
    revoked = await revokeBackendIngress();
    await page.getByRole('link', { name: 'Diagnose again' }).click();
    await expect(page).toHaveURL(/\?fresh=1$/);
    // A fresh diagnosis is served the status if it is younger than 5 s, and one per person per 10 s:
    // diagnose again (reload ?fresh=1) until the fresh one shows.
    await expect(async () => {
      await page.reload();
      await expect(diagnosis).toHaveAttribute('data-verdict', 'broken', { timeout: 5000 });
    }).toPass({ timeout: 60_000 });
    const rootCause = page.getByRole('alert', { name: 'Root cause' });
    await expect(rootCause).toContainText('sg.backend-ingress');
    await screenshot(page, 'troubleshoot-production-diagnosis', testInfo);

    await rootCause.getByRole('link', { name: /Open runbook/ }).click();
    await expect(page).toHaveURL(/\/troubleshoot\/could-not-connect#step-sg\.backend-ingress$/);
    await expect(page.getByRole('heading', { level: 1, name: 'Production: "Could not connect to server"' })).toBeVisible();
    const step = page.locator('[id="step-sg.backend-ingress"]');
    await expect(step).toHaveAttribute('data-status', 'fail');
    await expect(step.locator('code').first()).toContainText('authorize-security-group-ingress');
    await expect(step.getByRole('button', { name: 'Copy command' }).first()).toBeVisible();
    // The runbook-only steps ran too, from the backends' side of the network.
    await expect(page.locator('[id="step-backend.tcp"]')).toContainText('nc -zv');

    // Readable in a narrow window, and on paper without the buttons.
    await page.setViewportSize({ width: 380, height: 800 });
    await expect(step).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(1);
    await screenshot(page, 'troubleshoot-runbook-narrow', testInfo);
    await page.emulateMedia({ media: 'print' });
    await expect(step.getByRole('button', { name: 'Copy command' }).first()).toBeHidden();
    await expect(page.getByRole('button', { name: 'Print' })).toBeHidden();
    await expect(step.locator('code').first()).toBeVisible();
    await page.emulateMedia({ media: 'screen' });
  } finally {
    if (revoked) await restoreIngress(revoked);
    // Leave the lab, and the console's cache, healthy for the next spec.
    await untilDiagnosedHealthy(page);
  }
});

test('the root cause shows while a slower step is still running, and that step streams in after it', async ({ page }) => {
  await signIn(page, 'viewer', '/environments/production/troubleshoot');
  let revoked: RevokedRule | undefined;
  // The instance role's simulation answers seconds after the security groups do.
  const slow = await slowAws('iam', 'SimulatePrincipalPolicy', 3000);
  try {
    revoked = await revokeBackendIngress();
    // While React swaps an answer in, the answered step (anchored #step-<id>) and its running
    // placeholder are both in the document: each is looked up by what only it has.
    const stillRunning = page.locator('[data-step-id="backend.role-permissions"][data-status="running"]');
    const answered = (id: string) => page.locator(`[id="step-${id}"]`);
    await expect(async () => {
      // `commit`: the load event waits for the whole stream, and this looks at it while it flows.
      await page.goto('/environments/production/troubleshoot?fresh=1', { waitUntil: 'commit' });
      await expect(page.getByRole('alert', { name: 'Root cause' })).toContainText('sg.backend-ingress', { timeout: 2500 });
      await expect(stillRunning).toHaveCount(1, { timeout: 100 });
    }).toPass({ timeout: 60_000 });
    await expect(page.getByTestId('diagnosis-pending')).toContainText('still running');
    // Its answer comes within its own budget once the reads it needs have answered, on a busy machine too.
    await expect(answered('backend.role-permissions')).toHaveAttribute('data-status', 'pass', { timeout: 30_000 });
    await expect(answered('sg.backend-ingress')).toHaveAttribute('data-status', 'fail');
  } finally {
    await fast(slow);
    if (revoked) await restoreIngress(revoked);
    await untilDiagnosedHealthy(page);
  }
});

test('triage: a pasted libpq error finds "Authentication failed" already run; empty and oversized pastes get a clear message; the paste is not logged', async ({ page }) => {
  await signIn(page, 'viewer', '/environments/production/troubleshoot');
  const box = page.getByRole('textbox', { name: 'Error message' });
  const find = page.getByRole('button', { name: 'Find runbooks' });
  const triage = page.getByRole('region', { name: 'Triage an error message' });

  await box.fill('');
  await find.click();
  await expect(triage.getByRole('alert')).toContainText('Paste the error message');

  await box.fill('x'.repeat(10_001));
  await find.click();
  await expect(triage.getByRole('alert')).toContainText('10 kB');

  const marker = `e2e-paste-marker-${Date.now()}`;
  await box.fill(`sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) FATAL:  password authentication failed for user "linkbox" ${marker}`);
  await find.click();
  await expect(triage).toContainText('Password authentication failed');
  const run = triage.locator('[data-runbook="authentication-failed"]');
  await expect(run.getByRole('link', { name: '"Authentication failed"' })).toBeVisible();
  await expect(run.locator('[data-step-id="db.login"]')).toHaveAttribute('data-status', 'pass');
  // The answer names our pattern, never the pasted text.
  await expect(triage.locator('[aria-live]')).not.toContainText(marker);

  const log = process.env.E2E_CONSOLE_LOG;
  if (log) expect(readFileSync(log, 'utf8')).not.toContain(marker);
});

test('an unknown runbook, or one for the other kind of environment, is 404', async ({ page }) => {
  await signIn(page, 'viewer', '/environments/production/troubleshoot/no-such-runbook');
  await expect(page.getByRole('heading', { name: 'Not found' })).toBeVisible();
  for (const path of ['/environments/production/troubleshoot/no-such-runbook', '/environments/production/troubleshoot/local-connection-refused', '/environments/local/troubleshoot/could-not-connect', '/environments/no-such-env/troubleshoot']) {
    const res = await page.request.get(path);
    expect(res.status(), path).toBe(404);
  }
  const local = await page.request.get('/environments/local/troubleshoot/local-connection-refused');
  expect(local.status()).toBe(200);
});

test('the diagnosis API answers {rootCause, runbook, steps} for a session, and 404 for an unknown environment', async ({ page }) => {
  await signIn(page, 'viewer', '/');
  const res = await page.request.get('/api/v1/environments/production/diagnosis?fresh=1');
  expect(res.status()).toBe(200);
  const body = (await res.json()) as { rootCause: string | null; runbook: string | null; verdict: string; steps: Array<{ id: string; status: string; runbooks: string[] }> };
  // Healthy is certain only once every step has answered.
  expect(body).toMatchObject({ rootCause: null, runbook: null, verdict: 'healthy', complete: true, pending: [] });
  expect((await page.request.get('/api/v1/environments/production/diagnosis?wait=later')).status()).toBe(400);
  expect((await (await page.request.get('/api/v1/environments/production/diagnosis?wait=all')).json()) as { complete: boolean }).toMatchObject({ complete: true });
  expect(body.steps.map((s) => s.id)).toEqual(expect.arrayContaining(['sg.backend-ingress', 'backend.tcp', 'backend.role-permissions', 'db.login']));

  const local = (await (await page.request.get('/api/v1/environments/local/diagnosis')).json()) as { rootCause: string | null; steps: Array<{ id: string }> };
  expect(local.rootCause).toBeNull();
  expect(local.steps.map((s) => s.id)).toContain('local.listening');

  expect((await page.request.get('/api/v1/environments/no-such-env/diagnosis')).status()).toBe(404);
});
