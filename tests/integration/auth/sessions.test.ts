import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextApiRequest, NextApiResponse } from 'next';
import NextAuth from 'next-auth';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startIdentityProvider, type IdentityProvider } from '@/infra/lab/oidc/provider';
import { listAudit } from '@/lib/audit';
import { authOptions } from '@/lib/auth/options';
import { checkSignInFreshness } from '@/lib/auth/reauth';
import { sessionIdFromCookies } from '@/lib/auth/session-cookie';
import { endSessionsOf, resolveSession, type SessionInfo } from '@/lib/auth/sessions';
import { closeStoreForTests } from '@/lib/store';
import { Browser, type Stop } from '../lab-oidc/browser';

// The console's sign-in end to end without a browser: next-auth with the console's own options
// (through its API-route entry, which needs no Next server) against the lab's identity provider, the
// IdP's own login form, the real store (SQLite) and a config file on disk. "The next request" is what
// every page, server action and route handler does with the cookie: decrypt it (sessionIdFromCookies)
// and look the session up (resolveSession); next-auth's own /api/auth/session runs the same lookup.

const CONSOLE_URL = 'http://127.0.0.1:3299';
const REDIRECT_URI = `${CONSOLE_URL}/api/auth/callback/oidc`;
const PASSWORDS = {
  LAB_VIEWER_PASSWORD: 'viewer-sessions-test',
  LAB_OPERATOR_PASSWORD: 'operator-sessions-test',
  LAB_ADMIN_PASSWORD: 'admin-sessions-test',
  LAB_UNVERIFIED_PASSWORD: 'unverified-sessions-test',
};
const EMAIL = { viewer: 'viewer@linkbox.lab', operator: 'operator@linkbox.lab', admin: 'admin@linkbox.lab', unverified: 'unverified@linkbox.lab' };
type Person = keyof typeof EMAIL;

let idp: IdentityProvider;
let dir: string;
let configPath: string;
const saved = { ...process.env };

function writeConfig(roles: { viewer: string[]; operator: string[]; admin: string[] }) {
  const { groupsClaim, groupsScope } = idp.state();
  writeFileSync(configPath, JSON.stringify({ mode: 'lab', environments: [{ name: 'local', kind: 'local' }], signIn: { groupsClaim, groupsScope }, roles }));
}

const LAB_ROLES = {
  viewer: ['group:linkbox-viewers', EMAIL.unverified],
  operator: ['group:linkbox-operators'],
  admin: ['group:linkbox-admins'],
};

beforeAll(async () => {
  idp = await startIdentityProvider({ port: 0, portSetting: 'LAB_OIDC_PORT', log: () => undefined, redirectUris: [REDIRECT_URI], passwords: PASSWORDS });
  dir = mkdtempSync(join(tmpdir(), 'console-sessions-'));
  configPath = join(dir, 'console.config.json');
  writeConfig(LAB_ROLES);
  const { issuer, clientId, clientSecret } = idp.state();
  Object.assign(process.env, {
    LINKBOX_CONFIG: configPath,
    AUDIT_SQLITE_PATH: join(dir, 'console.sqlite'),
    NEXTAUTH_URL: CONSOLE_URL,
    NEXTAUTH_SECRET: 'sessions-integration-secret-0123456789abcdef',
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: clientId,
    OIDC_CLIENT_SECRET: clientSecret,
  });
  delete process.env.AUDIT_DATABASE_URL;
});

afterAll(async () => {
  await closeStoreForTests();
  await idp?.stop();
  rmSync(dir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

beforeEach(() => writeConfig(LAB_ROLES));

/** One browser's side of the console: next-auth's cookies, and next-auth's API route answering. */
class ConsoleTab {
  readonly cookies = new Map<string, string>();
  readonly idp = new Browser(REDIRECT_URI);

  async call(route: string[], init: { method?: string; query?: Record<string, string>; body?: Record<string, string> } = {}) {
    const headers: Record<string, string | string[]> = {};
    let body: unknown;
    const cookies = Object.fromEntries(this.cookies);
    const req = { method: init.method ?? 'GET', query: { nextauth: route, ...init.query }, body: init.body, cookies, headers: { host: new URL(CONSOLE_URL).host } };
    const res = {
      statusCode: 200,
      status(code: number) {
        this.statusCode = code;
        return this;
      },
      setHeader(name: string, value: string | string[]) {
        headers[name.toLowerCase()] = value;
        return this;
      },
      getHeader: (name: string) => headers[name.toLowerCase()],
      end: () => undefined,
      send: (value: unknown) => void (body = value),
      json: (value: unknown) => void (body = value),
    };
    // As app/api/auth/[...nextauth]/route.ts builds them: the client address, and the session this tab already has.
    const options = authOptions({ address: '127.0.0.1', previousSessionId: await sessionIdFromCookies(this.cookies) });
    await NextAuth(req as unknown as NextApiRequest, res as unknown as NextApiResponse, options);
    for (const line of ([] as string[]).concat(headers['set-cookie'] ?? [])) {
      const [pair, ...attributes] = line.split(';');
      const name = pair!.slice(0, pair!.indexOf('='));
      const value = decodeURIComponent(pair!.slice(pair!.indexOf('=') + 1));
      if (attributes.some((a) => /^\s*max-age=0$/i.test(a)) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return { status: res.statusCode, location: headers.location as string | undefined, body };
  }

  /** The sign-in form's button: signIn('oidc', { callbackUrl }, params), then the IdP's own login form. */
  async signIn(person: Person, params: Record<string, string> = {}): Promise<{ status: number; location?: string }> {
    const { body: csrf } = await this.call(['csrf']);
    const { body } = await this.call(['signin', 'oidc'], {
      method: 'POST',
      query: params,
      body: { csrfToken: (csrf as { csrfToken: string }).csrfToken, callbackUrl: `${CONSOLE_URL}/environments/production`, json: 'true' },
    });
    const page = await this.idp.open((body as { url: string }).url);
    const stop: Stop = page.kind === 'page' ? await this.idp.signIn(page, EMAIL[person], PASSWORDS[`LAB_${person.toUpperCase()}_PASSWORD` as keyof typeof PASSWORDS]) : page;
    if (stop.kind !== 'callback') throw new Error(`the IdP did not send the browser back (${stop.status}): ${stop.html.slice(0, 300)}`);
    return this.call(['callback', 'oidc'], { query: Object.fromEntries(new URL(stop.url).searchParams) });
  }

  /** What a page, server action or route handler sees at this tab's next request. */
  async nextRequest(): Promise<SessionInfo | null> {
    const sessionId = await sessionIdFromCookies(this.cookies);
    return sessionId ? resolveSession(sessionId) : null;
  }

  async signOut(): Promise<void> {
    const { body: csrf } = await this.call(['csrf']);
    await this.call(['signout'], { method: 'POST', body: { csrfToken: (csrf as { csrfToken: string }).csrfToken, callbackUrl: `${CONSOLE_URL}/signin`, json: 'true' } });
  }
}

describe('signing in through the IdP', () => {
  it("gives each person the role of their group, and the session the ID token's auth_time", async () => {
    for (const person of ['viewer', 'operator', 'admin'] as const) {
      const tab = new ConsoleTab();
      const before = Math.floor(Date.now() / 1000);
      const done = await tab.signIn(person);
      expect(done).toMatchObject({ status: 302, location: `${CONSOLE_URL}/environments/production` });
      const session = await tab.nextRequest();
      expect(session?.caller).toEqual({ id: EMAIL[person], role: person, via: 'session' });
      expect(session!.authTime).toBeGreaterThanOrEqual(before - 1);
      expect((await tab.call(['session'])).body).toMatchObject({ user: { email: EMAIL[person] }, role: person });
    }
  });

  it('refuses the account whose email the IdP has not verified, although the config lists that email, with the reason on the sign-in page', async () => {
    const tab = new ConsoleTab();
    expect(await tab.signIn('unverified')).toMatchObject({ status: 302, location: '/signin?error=EmailNotVerified' });
    expect(await tab.nextRequest()).toBeNull();
    expect((await listAudit({ id: 'test', role: 'admin', via: 'session' }))[0]).toMatchObject({ actor: EMAIL.unverified, action: 'sign-in', outcome: 'refused' });
  });

  it('re-authenticates with prompt=login and max_age: the IdP asks for the password and the new auth_time is fresh', async () => {
    const tab = new ConsoleTab();
    // The clock control: the first sign-in is recorded as typed 16 minutes ago.
    await fetch(idp.state().nextLoginUrl, { method: 'POST', body: JSON.stringify({ authTimeAgeSeconds: 960 }) });
    await tab.signIn('operator');
    const stale = await tab.nextRequest();
    expect(checkSignInFreshness(stale!.authTime)).toMatchObject({ ok: false, reason: 'stale-sign-in' });

    await tab.signIn('operator', { prompt: 'login', max_age: '900' });
    const fresh = await tab.nextRequest();
    expect(fresh).toMatchObject({ caller: { id: EMAIL.operator, role: 'operator' }, kind: 're-authentication' });
    expect(checkSignInFreshness(fresh!.authTime).ok).toBe(true);
  });
});

describe('sessions the console can end', () => {
  it('removing an operator from the config file takes their role away at their next request', async () => {
    const tab = new ConsoleTab();
    await tab.signIn('operator');
    expect((await tab.nextRequest())?.caller.role).toBe('operator');

    writeConfig({ ...LAB_ROLES, operator: [] });
    expect(await tab.nextRequest()).toBeNull();
    // next-auth's own endpoint refuses it too, and clears the cookie.
    expect((await tab.call(['session'])).body).toEqual({});
    expect([...tab.cookies.keys()].some((name) => name.endsWith('session-token'))).toBe(false);

    // Ended for good: putting the role back does not revive that session; a new sign-in does.
    writeConfig(LAB_ROLES);
    const again = new ConsoleTab();
    await again.signIn('operator');
    expect((await again.nextRequest())?.caller.role).toBe('operator');
  });

  it("an admin ending a person's sessions takes effect at their next request, in every browser", async () => {
    const laptop = new ConsoleTab();
    const phone = new ConsoleTab();
    const adminTab = new ConsoleTab();
    await laptop.signIn('operator');
    await phone.signIn('operator');
    await adminTab.signIn('admin');
    const admin = (await adminTab.nextRequest())!.caller;

    expect(await endSessionsOf(admin, EMAIL.operator)).toBeGreaterThanOrEqual(2);
    expect(await laptop.nextRequest()).toBeNull();
    expect(await phone.nextRequest()).toBeNull();
    expect((await adminTab.nextRequest())?.caller.id).toBe(EMAIL.admin);
    await expect(endSessionsOf({ id: EMAIL.viewer, role: 'viewer', via: 'session' }, EMAIL.admin)).rejects.toThrow(/needs admin/);
  });

  it('signing out ends the session on the server: a copy of the old cookie is refused', async () => {
    const tab = new ConsoleTab();
    await tab.signIn('viewer');
    const copied = new Map(tab.cookies);
    await tab.signOut();
    expect(await tab.nextRequest()).toBeNull();
    const sessionId = await sessionIdFromCookies(copied);
    expect(sessionId).not.toBeNull();
    expect(await resolveSession(sessionId!)).toBeNull();
  });
});
