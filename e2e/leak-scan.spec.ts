import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect, test, type APIRequestContext } from '@playwright/test';
import { identityProvider, labAccount, signIn, type LabRole } from './support/auth';
import { aws, labUrl } from './support/lab';

// After a rotation, no password may be anywhere a person or a log can read it: not in any page (HTML
// or the RSC payload a router refresh fetches), any API answer, or the console's server log.

const ENV = 'production';
const ROLES: LabRole[] = ['viewer', 'operator', 'admin'];
const MAX_URLS_PER_ROLE = 80;

interface LabState {
  parameterPrefix: string;
}

async function passwordParameter(): Promise<string> {
  const state = (await (await fetch(`${labUrl()}/_lab/state`)).json()) as LabState;
  const out = (await aws('ssm', 'get-parameter', '--name', `${state.parameterPrefix}/db-password`, '--with-decryption')) as { Parameter: { Value: string } };
  return out.Parameter.Value;
}

/**
 * Every page and route handler the app has, read from app/ (so a new page is scanned without
 * editing this test): `[name]` becomes each environment; other dynamic segments are found by
 * following links instead.
 */
function appRoutes(environments: string[]): string[] {
  const appDir = join(process.cwd(), 'app');
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (/^(page|route)\.tsx?$/.test(entry)) found.push(relative(appDir, dir));
    }
  };
  walk(appDir);
  const urls = new Set<string>();
  for (const dir of found) {
    const segments = dir.split(sep).filter((s) => s && !/^\(.*\)$/.test(s));
    if (segments.some((s) => s.startsWith('[') && s !== '[name]')) continue;
    for (const env of environments) urls.add(`/${segments.map((s) => (s === '[name]' ? env : s)).join('/')}`);
  }
  // next-auth's own JSON endpoints, which a browser reads.
  urls.add('/api/auth/session');
  urls.add('/api/auth/providers');
  return [...urls].map((u) => (u === '/' ? u : u.replace(/\/$/, '')));
}

function sameOriginLinks(html: string, baseURL: string): string[] {
  const links: string[] = [];
  for (const match of html.matchAll(/href="([^"#]+)"/g)) {
    const raw = match[1]!.replaceAll('&amp;', '&');
    let url: URL;
    try {
      url = new URL(raw, baseURL);
    } catch {
      continue;
    }
    if (url.origin !== new URL(baseURL).origin || url.pathname.startsWith('/_next/') || /\.(css|js|ico|png|svg|woff2?)$/.test(url.pathname)) continue;
    links.push(url.pathname + url.search);
  }
  return links;
}

async function scan(request: APIRequestContext, seeds: string[], baseURL: string, secrets: Map<string, string>, who: string): Promise<number> {
  const queue = [...seeds];
  const seen = new Set<string>();
  while (queue.length > 0 && seen.size < MAX_URLS_PER_ROLE) {
    const path = queue.shift()!;
    if (seen.has(path) || path.startsWith('/api/auth/signout')) continue;
    seen.add(path);
    const variants: Array<{ what: string; headers: Record<string, string> }> = [
      { what: 'HTML', headers: {} },
      { what: 'RSC payload', headers: { RSC: '1' } },
    ];
    for (const variant of path.startsWith('/api/') ? variants.slice(0, 1) : variants) {
      const res = await request.get(path, { headers: variant.headers, maxRedirects: 0, failOnStatusCode: false, timeout: 60_000 });
      const body = await res.text();
      const headers = JSON.stringify(res.headersArray());
      for (const [name, secret] of secrets) {
        expect(body.includes(secret), `${name} in the ${variant.what} of ${path} as ${who}`).toBe(false);
        expect(headers.includes(secret), `${name} in the headers of ${path} as ${who}`).toBe(false);
      }
      if (variant.what === 'HTML' && res.status() === 200) {
        for (const link of sameOriginLinks(body, baseURL)) if (!seen.has(link)) queue.push(link);
      }
    }
  }
  return seen.size;
}

test('after a rotation, the new password is in no page, RSC payload, API answer or server log line, for any role', async ({ page, browser }) => {
  // A rotation, then every page twice (HTML and RSC) for four identities: minutes, not seconds.
  test.setTimeout(600_000);
  const baseURL = test.info().project.use.baseURL!;
  const oldPassword = await passwordParameter();

  await signIn(page, 'operator', `/environments/${ENV}/rotate`);
  const existing = page.locator('section[data-rotation-id]');
  const previous = (await existing.count()) > 0 ? await existing.getAttribute('data-rotation-id') : null;
  await page.getByLabel('Confirm environment name').fill(ENV);
  await page.getByRole('button', { name: 'Start rotation' }).click();
  const current = page.locator('section[data-rotation-id]');
  await expect(current).not.toHaveAttribute('data-rotation-id', previous ?? '(none)');
  await expect(current).toHaveAttribute('data-state', 'completed', { timeout: 170_000 });

  const newPassword = await passwordParameter();
  expect(newPassword).not.toBe(oldPassword);
  const secrets = new Map<string, string>([
    ['the new database password', newPassword],
    ['the previous database password', oldPassword],
    ...[...ROLES, 'unverified' as const].map((person) => [`the ${person} lab password`, labAccount(person).password] as [string, string]),
    ['the OIDC client secret', (await identityProvider()).clientSecret],
  ]);

  const seeds = appRoutes([ENV, 'local']);
  expect(seeds).toEqual(expect.arrayContaining(['/', '/audit', `/environments/${ENV}/rotate`, `/environments/${ENV}/redeploy`, '/api/v1/environments']));
  const statusApis = [`/api/v1/environments/${ENV}/status?fresh=1`, '/api/v1/environments/local/status?fresh=1'];

  const anonymous = await browser.newContext({ baseURL });
  await scan(anonymous.request, [...seeds, ...statusApis], baseURL, secrets, 'a signed-out visitor');
  await anonymous.close();

  for (const role of ROLES) {
    const context = await browser.newContext({ baseURL });
    const rolePage = await context.newPage();
    await signIn(rolePage, role, '/');
    const scanned = await scan(context.request, [...seeds, ...statusApis], baseURL, secrets, role);
    expect(scanned).toBeGreaterThanOrEqual(seeds.length);
    await context.close();
  }

  const logPath = process.env.E2E_CONSOLE_LOG;
  expect(logPath, 'E2E_CONSOLE_LOG names the console log the start script writes').toBeTruthy();
  const log = readFileSync(logPath!, 'utf8');
  expect(log.length).toBeGreaterThan(0);
  for (const [name, secret] of secrets) expect(log.includes(secret), `${name} in the console log`).toBe(false);
});
