import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { ageNextIdpSignIn, signIn, signInAtIdp, type LabRole } from './support/auth';
import { aws, labUrl } from './support/lab';

// Rotation and restart through the console, checked from outside it: the AWS CLI reads SSM, psql
// logs in to the lab's PostgreSQL, and each backend's /health is asked directly.

const run = promisify(execFile);
const ENV = 'production';

interface LabState {
  db: { host: string; port: number };
  rds: { masterUsername: string; dbName: string };
  parameterPrefix: string;
  instances: Array<{ id: string; healthUrl: string }>;
}

async function labState(): Promise<LabState> {
  const res = await fetch(`${labUrl()}/_lab/state`);
  expect(res.status).toBe(200);
  return (await res.json()) as LabState;
}

/** db-password as start_application.sh reads it: with decryption, through the AWS CLI. */
async function storedPassword(state: LabState): Promise<{ value: string; version: number }> {
  const out = (await aws('ssm', 'get-parameter', '--name', `${state.parameterPrefix}/db-password`, '--with-decryption')) as {
    Parameter: { Value: string; Version: number };
  };
  return { value: out.Parameter.Value, version: out.Parameter.Version };
}

/** psql through the operator's tunnel; the result, and psql's complaint when it fails. */
async function psqlLogin(state: LabState, password: string): Promise<{ ok: boolean; stderr: string }> {
  try {
    await run('psql', ['-h', state.db.host, '-p', String(state.db.port), '-U', state.rds.masterUsername, '-d', state.rds.dbName, '-tAc', 'SELECT 1'], {
      env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' },
      timeout: 30_000,
    });
    return { ok: true, stderr: '' };
  } catch (err) {
    return { ok: false, stderr: String((err as { stderr?: string }).stderr ?? err) };
  }
}

async function signedInPage(browser: Browser, role: LabRole, path: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role, path);
  return page;
}

async function lastRotationId(page: Page): Promise<string | null> {
  const section = page.locator('section[data-rotation-id]');
  return (await section.count()) > 0 ? section.getAttribute('data-rotation-id') : null;
}

test('an operator whose IdP sign-in is 16 minutes old signs in again, comes back to the form as they left it, and rotates production: SSM holds a new version, only the new password logs in, every backend answers 200, /audit shows it', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const lab = await labState();
  const before = await storedPassword(lab);

  // The IdP's clock control: this sign-in's auth_time is 16 minutes old, past the 15-minute window.
  await ageNextIdpSignIn(16 * 60);
  await signIn(page, 'operator', `/environments/${ENV}`);
  await page.getByRole('link', { name: 'Rotate password' }).click();
  await expect(page).toHaveURL(`/environments/${ENV}/rotate`);
  await expect(page.getByRole('heading', { name: 'What will happen' })).toBeVisible();
  await expect(page.getByRole('region', { name: 'Start a rotation' }).getByRole('status')).toContainText('needs a sign-in from the last 15 minutes');
  const previous = await lastRotationId(page);

  // The action itself refuses, whatever the page said, and offers to sign in again.
  await page.getByLabel('Confirm environment name').fill(ENV);
  await page.getByRole('button', { name: 'Start rotation' }).click();
  const refusal = page.getByRole('alert').filter({ hasText: 'This action needs a sign-in from the last 15 minutes' });
  await expect(refusal).toBeVisible();
  await refusal.getByRole('link', { name: 'Sign in again' }).click();

  // Signed in already: the sign-in page asks to confirm rather than sending them straight back (no loop),
  // and the IdP asks for the password despite its session (prompt=login, max_age).
  await expect(page).toHaveURL(/\/signin\?reauth=1&callbackUrl=%2Fenvironments%2Fproduction%2Frotate/);
  await page.getByRole('button', { name: 'Sign in again' }).click();
  await signInAtIdp(page, 'operator');
  await expect(page).toHaveURL(`/environments/${ENV}/rotate`);
  await expect(page.getByLabel('Confirm environment name')).toHaveValue(ENV);
  await expect(page.getByRole('region', { name: 'Start a rotation' }).getByRole('status')).toHaveCount(0);
  await page.getByRole('button', { name: 'Start rotation' }).click();

  // The steps appear while the rotation runs; then the new rotation, not an earlier one, completes.
  const current = page.locator('section[data-rotation-id]');
  await expect(current).not.toHaveAttribute('data-rotation-id', previous ?? '(none)');
  await expect(current.locator('li[data-step="modify-db"]')).toBeVisible();
  await expect(current).toHaveAttribute('data-state', 'completed', { timeout: 170_000 });
  await expect(current.getByText('Rotation complete')).toBeVisible();
  await expect(current.locator('li[data-step][data-status="done"]')).toHaveCount(9);
  const rotationId = await current.getAttribute('data-rotation-id');

  const after = await storedPassword(lab);
  expect(after.version).toBeGreaterThan(before.version);
  expect(after.value).not.toBe(before.value);

  expect(await psqlLogin(lab, after.value)).toEqual({ ok: true, stderr: '' });
  const old = await psqlLogin(lab, before.value);
  expect(old.ok).toBe(false);
  expect(old.stderr).toMatch(/password authentication failed/);

  expect(lab.instances.length).toBeGreaterThan(0);
  for (const instance of lab.instances) {
    const res = await fetch(instance.healthUrl, { signal: AbortSignal.timeout(10_000) });
    expect(res.status, `${instance.id} /health`).toBe(200);
  }

  await page.goto('/audit');
  const entry = page.locator('tr[data-action="rotation"][data-outcome="success"]').filter({ hasText: rotationId! });
  await expect(entry).toContainText('operator@linkbox.lab');
  await expect(entry).toContainText(ENV);
  await expect(entry.getByText('Step timings')).toBeVisible();
  await expect(page.locator('tr[data-action="re-authentication"][data-outcome="success"]').first()).toContainText('operator@linkbox.lab');
  expect(await page.content()).not.toContain(after.value);
});

test('a viewer sees no rotate link or button, and a forged POST of the real action with their session is refused and audited', async ({ browser }) => {
  const lab = await labState();
  const before = await storedPassword(lab);

  // The attacker learns the action id the way anyone watching an operator's browser could: from the
  // Next-Action header of a submission (this one is refused too, for its wrong confirmation).
  const operator = await signedInPage(browser, 'operator', `/environments/${ENV}/rotate`);
  await operator.getByLabel('Confirm environment name').fill('staging');
  const submitted = operator.waitForRequest((r) => r.method() === 'POST' && !!r.headers()['next-action']);
  await operator.getByRole('button', { name: 'Start rotation' }).click();
  const actionId = (await submitted).headers()['next-action']!;
  await expect(operator.getByRole('alert').filter({ hasText: 'The confirmation does not match' })).toBeVisible();
  await operator.context().close();

  const viewer = await signedInPage(browser, 'viewer', `/environments/${ENV}`);
  await expect(viewer.getByRole('heading', { name: ENV, level: 1 })).toBeVisible();
  await expect(viewer.getByRole('link', { name: 'Rotate password' })).toHaveCount(0);
  await viewer.goto(`/environments/${ENV}/rotate`);
  await expect(viewer.getByRole('heading', { name: 'What will happen' })).toBeVisible();
  await expect(viewer.getByRole('button', { name: 'Start rotation' })).toHaveCount(0);
  await expect(viewer.getByLabel('Confirm environment name')).toHaveCount(0);

  await viewer.goto('/audit');
  const refusals = viewer.locator('tr[data-action="rotation.start"][data-outcome="refused"]').filter({ hasText: 'viewer@linkbox.lab' });
  const refusalsBefore = await refusals.count();

  // The forged call: the real action endpoint, the viewer's cookies, a well-formed payload.
  const baseURL = test.info().project.use.baseURL!;
  const res = await viewer.request.post(`/environments/${ENV}/rotate`, {
    headers: { 'Next-Action': actionId, Origin: baseURL, Accept: 'text/x-component', 'Content-Type': 'text/plain;charset=UTF-8' },
    data: JSON.stringify([{}, { environment: ENV, confirmEnvironment: ENV }]),
  });
  expect(res.status()).toBe(200);
  expect(await res.text()).toContain('You are signed in as viewer; rotating the password needs operator.');

  await viewer.reload();
  await expect(refusals).toHaveCount(refusalsBefore + 1);
  await expect(refusals.first()).toContainText('viewer; rotating the password needs operator');
  await expect(viewer.locator('tr[data-action="rotation.start"][data-outcome="refused"]').filter({ hasText: 'typed confirmation does not match' }).first()).toContainText(
    'operator@linkbox.lab',
  );

  const after = await storedPassword(lab);
  expect(after.version).toBe(before.version);
  await viewer.context().close();
});

test('an operator restarts the containers one at a time and every backend comes back healthy', async ({ page }) => {
  const lab = await labState();
  await signIn(page, 'operator', `/environments/${ENV}`);
  await page.getByRole('link', { name: 'Restart containers' }).click();
  await expect(page).toHaveURL(`/environments/${ENV}/redeploy`);
  const existing = page.locator('section[data-redeploy-id]');
  const previous = (await existing.count()) > 0 ? await existing.getAttribute('data-redeploy-id') : null;

  await page.getByLabel('Confirm environment name').fill(ENV);
  await page.getByRole('button', { name: 'Restart containers' }).click();

  const current = page.locator('section[data-redeploy-id]');
  await expect(current).not.toHaveAttribute('data-redeploy-id', previous ?? '(none)');
  await expect(current).toHaveAttribute('data-state', 'completed', { timeout: 150_000 });
  await expect(current.getByText('Restart complete')).toBeVisible();
  await expect(current.locator('li[data-instance-id][data-status="done"]')).toHaveCount(lab.instances.length);
  for (const instance of lab.instances) {
    expect((await fetch(instance.healthUrl, { signal: AbortSignal.timeout(10_000) })).status, `${instance.id} /health`).toBe(200);
  }
});
