import { expect, test, type Browser, type Page } from '@playwright/test';
import { forgetIdpSession, identityProvider, labAccount, signIn, signInAtIdp, signOut, type LabRole } from './support/auth';

// Sign-in through the lab's identity provider (a real OpenID Connect provider, its own login page),
// sessions the console can end, and refusals. The proxy only redirects; some requests also carry the
// x-middleware-subrequest header that once let a request skip Next's middleware, to show every page
// and route handler refuses on its own.

const PAGES = ['/', '/environments/production', '/environments/local', '/environments/no-such-env', '/admin/sessions'];
const APIS = ['/api/v1/environments', '/api/v1/environments/production/status', '/api/v1/environments/local/status?fresh=1', '/api/v1/environments/production/diagnosis'];
const SKIP_PROXY_HEADERS: Array<Record<string, string>> = [
  {},
  { 'x-middleware-subrequest': 'middleware:middleware:middleware:middleware:middleware' },
  { 'x-middleware-subrequest': 'proxy:proxy:proxy:proxy:proxy' },
  { 'x-middleware-subrequest': 'src/proxy:src/proxy:src/proxy:src/proxy:src/proxy' },
];

async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  return context.newPage();
}

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

test("each role signs in on the identity provider's own login page, which refuses a wrong password itself", async ({ browser }) => {
  const { issuer } = await identityProvider();
  for (const role of ['viewer', 'operator', 'admin'] as LabRole[]) {
    const page = await newPage(browser);
    await page.goto('/environments/production');
    await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
    if (role === 'viewer') {
      await signInAtIdp(page, role, 'not-the-password');
      expect(page.url().startsWith(`${issuer}/interaction/`)).toBe(true);
      await expect(page.getByRole('alert')).toHaveText('Wrong email or password.');
      expect((await page.request.get('/api/v1/environments')).status()).toBe(401);
      await page.getByLabel('Email').fill(labAccount(role).email);
      await page.getByLabel('Password').fill(labAccount(role).password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    } else {
      await signInAtIdp(page, role);
    }
    await expect(page).toHaveURL(/\/environments\/production$/);
    const user = page.getByRole('group', { name: 'Signed-in user' });
    await expect(user).toContainText(labAccount(role).email);
    await expect(user).toContainText(role);
    await expect(page.getByRole('link', { name: 'Sessions' })).toHaveCount(role === 'admin' ? 1 : 0);
    await page.context().close();
  }
});

test('the account whose email the IdP has not verified is refused with a clear message, though the config lists it', async ({ page }) => {
  await forgetIdpSession(page);
  await page.goto('/');
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  await signInAtIdp(page, 'unverified');
  await expect(page).toHaveURL(/\/signin\?error=EmailNotVerified/);
  await expect(page.getByRole('main').getByRole('alert')).toContainText('Your identity provider has not verified the email address of this account');
  await expect(page.getByRole('group', { name: 'Signed-in user' })).toHaveCount(0);
  expect((await page.request.get('/api/v1/environments')).status()).toBe(401);
});

test('after sign-out, the old cookie and its session are refused by pages, server actions and the JSON API', async ({ page, browser }) => {
  await signIn(page, 'viewer', '/environments/production/troubleshoot');
  const session = (await page.context().cookies()).find((c) => c.name.endsWith('next-auth.session-token'));
  expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
  // The lab console runs on plain http; under https next-auth also marks it Secure (__Secure- prefix).
  expect(session!.secure).toBe(false);

  // The triage action's id, from a real submission, to call it again with the old cookie.
  const submitted = page.waitForRequest((r) => r.method() === 'POST' && !!r.headers()['next-action']);
  await page.getByRole('textbox', { name: 'Error message' }).fill('connection refused');
  await page.getByRole('button', { name: 'Find runbooks' }).click();
  const actionId = (await submitted).headers()['next-action']!;
  await expect(page.getByRole('region', { name: 'Triage an error message' })).toContainText('Connection refused');

  await signOut(page);
  expect((await page.context().cookies()).find((c) => c.name.endsWith('next-auth.session-token'))).toBeUndefined();

  // Someone who copied the cookie before sign-out: it still decrypts, but its session has ended.
  const thief = await newPage(browser);
  await thief.context().addCookies([session!]);
  const pageAnswer = await thief.request.get('/environments/production', { maxRedirects: 0 });
  expect(pageAnswer.status()).toBe(307);
  expect(pageAnswer.headers().location).toMatch(/\/signin\?callbackUrl=%2Fenvironments%2Fproduction/);
  const api = await thief.request.get('/api/v1/environments/production/status');
  expect(api.status()).toBe(401);
  const baseURL = test.info().project.use.baseURL!;
  const action = await thief.request.post('/environments/production/troubleshoot', {
    headers: { 'Next-Action': actionId, Origin: baseURL, Accept: 'text/x-component', 'Content-Type': 'text/plain;charset=UTF-8' },
    data: JSON.stringify([{ status: 'idle' }, { environment: 'production', text: 'connection refused' }]),
  });
  expect(await action.text()).toContain('Your session has ended. Sign in again, then repeat the action.');
  await thief.context().close();
});

test("an admin ends a viewer's sessions from the console: the viewer is signed out at the next request", async ({ browser }) => {
  const viewer = await newPage(browser);
  await signIn(viewer, 'viewer', '/');
  const admin = await newPage(browser);
  await signIn(admin, 'admin', '/');
  await admin.getByRole('link', { name: 'Sessions' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: 'Sessions' })).toBeVisible();
  const row = admin.locator('tr[data-email="viewer@linkbox.lab"]');
  await expect(row).toContainText('viewer');
  await row.getByRole('button', { name: 'End all sessions of viewer@linkbox.lab' }).click();
  // The confirmation stays above the table: the viewer's row leaves it once their sessions are gone.
  await expect(admin.getByRole('main').getByRole('status')).toContainText(/Ended \d+ sessions? of viewer@linkbox.lab/);
  await expect(row).toHaveCount(0);

  await viewer.reload();
  await expect(viewer).toHaveURL(/\/signin/);
  expect((await viewer.request.get('/api/v1/environments')).status()).toBe(401);
  await admin.goto('/audit');
  await expect(admin.locator('tr[data-action="sessions.end"][data-outcome="success"]').first()).toContainText('viewer@linkbox.lab');
  await viewer.context().close();
  await admin.context().close();
});

test('sign-in returns to the page that asked for it, never to another site, and no crafted return path makes it fail', async ({ page, request }) => {
  await forgetIdpSession(page);
  await page.goto('/signin?callbackUrl=https%3A%2F%2Fevil.example%2F');
  await page.getByRole('button', { name: 'Sign in with single sign-on' }).click();
  await signInAtIdp(page, 'viewer');
  await expect(page.getByRole('heading', { level: 1, name: 'Environments' })).toBeVisible();
  const origin = new URL(test.info().project.use.baseURL!).origin;
  expect(new URL(page.url()).origin).toBe(origin);

  const crafted = ['//evil.example', '/\\evil.example', '/.//evil.example', '/%2F%2Fevil.example', 'javascript:alert(1)', '/\r\nSet-Cookie: x=1', '/é', '/\u2028', '%E0%A4%A', 'https://evil.example/'];
  for (const value of crafted) {
    const url = `/signin?callbackUrl=${encodeURIComponent(value)}`;
    // Signed out: the page. Signed in: straight back, to a path on the console.
    expect((await request.get(url, { maxRedirects: 0 })).status(), value).toBe(200);
    const back = await page.request.get(url, { maxRedirects: 0 });
    expect(back.status(), value).toBe(307);
    const location = new URL(back.headers().location!, origin);
    expect(location.origin, value).toBe(origin);
    expect(location.pathname.startsWith('//'), value).toBe(false);
  }
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
