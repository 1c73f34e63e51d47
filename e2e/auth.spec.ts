import { expect, test } from '@playwright/test';
import { labAccount, signIn, signOut } from './support/auth';

// Sign-in, sessions and refusals. The proxy only redirects; these requests also carry the
// x-middleware-subrequest header that once let a request skip Next's middleware, to show every page
// and route handler refuses on its own.

const PAGES = ['/', '/environments/production', '/environments/local', '/environments/no-such-env'];
const APIS = ['/api/v1/environments', '/api/v1/environments/production/status', '/api/v1/environments/local/status?fresh=1', '/api/v1/environments/production/diagnosis'];
const SKIP_PROXY_HEADERS: Array<Record<string, string>> = [
  {},
  { 'x-middleware-subrequest': 'middleware:middleware:middleware:middleware:middleware' },
  { 'x-middleware-subrequest': 'proxy:proxy:proxy:proxy:proxy' },
  { 'x-middleware-subrequest': 'src/proxy:src/proxy:src/proxy:src/proxy:src/proxy' },
];

test('every page sends the signed-out to /signin and every API answers 401, with or without x-middleware-subrequest', async ({ request }) => {
  for (const headers of SKIP_PROXY_HEADERS) {
    for (const path of PAGES) {
      const res = await request.get(path, { headers, maxRedirects: 0 });
      expect(res.status(), `${path} ${JSON.stringify(headers)}`).toBe(307);
      expect(res.headers().location, `${path} ${JSON.stringify(headers)}`).toMatch(/^(https?:\/\/[^/]+)?\/signin/);
      expect(await res.text()).not.toContain('linkbox-db');
    }
    for (const path of APIS) {
      const res = await request.get(path, { headers, maxRedirects: 0 });
      expect(res.status(), `${path} ${JSON.stringify(headers)}`).toBe(401);
      expect((await res.json()) as { error: string }).toHaveProperty('error');
    }
  }
});

test('a wrong password or unknown account gets a clear error and no session', async ({ page }) => {
  const { email } = labAccount('viewer');
  await page.goto('/signin');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('main').getByRole('alert')).toHaveText('Email or password is incorrect.');

  await page.getByLabel('Email').fill('nobody@linkbox.lab');
  await page.getByLabel('Password').fill(labAccount('viewer').password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('main').getByRole('alert')).toHaveText('Email or password is incorrect.');

  const api = await page.request.get('/api/v1/environments');
  expect(api.status()).toBe(401);
});

test('the session cookie is httpOnly and SameSite=Lax, the header names the user and role, and sign-out ends the session', async ({ page, context }) => {
  await signIn(page, 'viewer', '/environments/local');
  await expect(page).toHaveURL(/\/environments\/local$/);
  const user = page.getByRole('group', { name: 'Signed-in user' });
  await expect(user).toContainText('viewer@linkbox.lab');
  await expect(user).toContainText('viewer');

  const session = (await context.cookies()).find((c) => c.name.endsWith('next-auth.session-token'));
  expect(session).toBeDefined();
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  // The lab console runs on plain http; under https next-auth also marks it Secure (__Secure- prefix).
  expect(session!.secure).toBe(false);

  await signOut(page);
  expect((await context.cookies()).find((c) => c.name.endsWith('next-auth.session-token'))).toBeUndefined();
  expect((await page.request.get('/api/v1/environments')).status()).toBe(401);
});

test('sign-in returns to the page that asked for it, and never to another site', async ({ page }) => {
  await signIn(page, 'viewer', '/environments/production');
  await expect(page).toHaveURL(/\/environments\/production$/);
  await signOut(page);

  const { email, password } = labAccount('viewer');
  await page.goto('/signin?callbackUrl=https%3A%2F%2Fevil.example%2F');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Environments' })).toBeVisible();
  expect(new URL(page.url()).origin).toBe(new URL(process.env.E2E_BASE_URL!).origin);
});

test('an API token from OPS_API_TOKENS reads status as a viewer; a wrong one is 401', async ({ request }) => {
  const entry = (process.env.OPS_API_TOKENS ?? '').split(',')[0]?.trim();
  test.skip(!entry, 'OPS_API_TOKENS is not set for this run (playwright.config.ts passes it to the console)');
  const token = entry!.includes(':') ? entry!.slice(entry!.indexOf(':') + 1) : entry!;

  const ok = await request.get('/api/v1/environments/production/status', { headers: { Authorization: `Bearer ${token}` } });
  expect(ok.status()).toBe(200);
  expect(await ok.json()).toMatchObject({ environment: 'production' });

  const wrong = await request.get('/api/v1/environments/production/status', { headers: { Authorization: `Bearer ${token}x` } });
  expect(wrong.status()).toBe(401);
});
