import type { NextApiRequest, NextApiResponse } from 'next';
import NextAuth, { type NextAuthOptions, type Profile } from 'next-auth';
import type { OAuthConfig } from 'next-auth/providers/oauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startIdentityProvider, type IdentityProvider } from '@/infra/lab/oidc/provider';
import { Browser, type Stop } from './browser';

// next-auth 4 itself (its OAuth core, through the API-route entry that needs no Next server)
// signing in against the lab's identity provider, with the provider config the console is to use.
// This pins down what the console's side can rely on: the discovery document, PKCE + state + nonce,
// the claims next-auth hands to `profile()` (email_verified, groups, auth_time), and that
// authorization params given to signIn() (prompt, max_age) reach the IdP.

const CONSOLE_URL = 'http://127.0.0.1:3210';
const REDIRECT_URI = `${CONSOLE_URL}/api/auth/callback/oidc`;
const PASSWORDS = { LAB_OPERATOR_PASSWORD: 'operator-next-auth-test', LAB_UNVERIFIED_PASSWORD: 'unverified-next-auth-test' };

interface LabProfile extends Profile {
  sub: string;
  email: string;
  email_verified: boolean;
  groups?: string[];
  auth_time: number;
}

let idp: IdentityProvider;
let options: NextAuthOptions;
/** What next-auth handed the callbacks at each sign-in. */
const signIns: Array<{ profile: LabProfile; idToken: string | undefined }> = [];
const authErrors: string[] = [];
const previousNextAuthUrl = process.env.NEXTAUTH_URL;

beforeAll(async () => {
  idp = await startIdentityProvider({ port: 0, portSetting: 'LAB_OIDC_PORT', log: () => undefined, redirectUris: [REDIRECT_URI], passwords: PASSWORDS });
  const { issuer, clientId, clientSecret } = idp.state();
  process.env.NEXTAUTH_URL = CONSOLE_URL;
  const provider: OAuthConfig<LabProfile> = {
    id: 'oidc',
    name: 'Single sign-on',
    type: 'oauth',
    wellKnown: `${issuer}/.well-known/openid-configuration`,
    clientId,
    clientSecret,
    authorization: { params: { scope: 'openid email profile groups' } },
    idToken: true,
    checks: ['pkce', 'state', 'nonce'],
    profile: (profile) => ({ id: profile.sub, email: profile.email, name: profile.name ?? profile.email }),
  };
  options = {
    providers: [provider],
    secret: 'next-auth-test-secret-0123456789abcdef',
    session: { strategy: 'jwt' },
    callbacks: {
      jwt({ token, profile, account }) {
        if (profile) signIns.push({ profile: profile as LabProfile, idToken: account?.id_token });
        return token;
      },
    },
    logger: { error: (code, meta) => void authErrors.push(`${code}: ${(meta as Error)?.message ?? JSON.stringify(meta)}`), warn: () => undefined, debug: () => undefined },
  };
});

afterAll(async () => {
  await idp?.stop();
  if (previousNextAuthUrl === undefined) delete process.env.NEXTAUTH_URL;
  else process.env.NEXTAUTH_URL = previousNextAuthUrl;
});

/** The console's side of the browser: next-auth's cookies, and its API route answering. */
class ConsoleSide {
  readonly cookies = new Map<string, string>();

  async call(route: string[], init: { method?: string; query?: Record<string, string>; body?: Record<string, string> } = {}) {
    const headers: Record<string, string | string[]> = {};
    let body: unknown;
    const req = { method: init.method ?? 'GET', query: { nextauth: route, ...init.query }, body: init.body, cookies: Object.fromEntries(this.cookies), headers: { host: new URL(CONSOLE_URL).host } };
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

  /** signIn('oidc', { callbackUrl }, authorizationParams), as next-auth/react posts it. */
  async startSignIn(authorizationParams: Record<string, string> = {}): Promise<string> {
    const { body: csrf } = await this.call(['csrf']);
    const { body } = await this.call(['signin', 'oidc'], {
      method: 'POST',
      query: authorizationParams,
      body: { csrfToken: (csrf as { csrfToken: string }).csrfToken, callbackUrl: `${CONSOLE_URL}/`, json: 'true' },
    });
    return (body as { url: string }).url;
  }

  async finishSignIn(stop: Stop): Promise<{ status: number; location?: string }> {
    if (stop.kind !== 'callback') throw new Error(`expected the callback, got a page (${stop.status}): ${stop.html.slice(0, 300)}`);
    return this.call(['callback', 'oidc'], { query: Object.fromEntries(new URL(stop.url).searchParams) });
  }
}

describe('next-auth 4 against the lab identity provider', () => {
  it('signs in with the code flow, PKCE, state and nonce, and hands profile() email_verified, groups and auth_time', async () => {
    const site = new ConsoleSide();
    const browser = new Browser(REDIRECT_URI);
    const authorizationUrl = new URL(await site.startSignIn());
    expect(authorizationUrl.origin).toBe(idp.state().issuer);
    expect(authorizationUrl.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorizationUrl.searchParams.get('nonce')).toBeTruthy();
    expect(authorizationUrl.searchParams.get('state')).toBeTruthy();
    expect(authorizationUrl.searchParams.get('redirect_uri')).toBe(REDIRECT_URI);

    const before = Math.floor(Date.now() / 1000);
    const done = await site.finishSignIn(await browser.signIn(await browser.open(authorizationUrl.href), 'operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD));
    expect(authErrors).toEqual([]);
    expect(done).toMatchObject({ status: 302, location: `${CONSOLE_URL}/` });
    expect(site.cookies.has('next-auth.session-token')).toBe(true);

    const { profile, idToken } = signIns.at(-1)!;
    expect(profile).toMatchObject({ iss: idp.state().issuer, aud: 'linkbox-ops-console', email: 'operator@linkbox.lab', email_verified: true, groups: ['linkbox-operators'] });
    expect(profile.auth_time).toBeGreaterThanOrEqual(before);
    expect(idToken).toMatch(/^ey/);
  });

  it('passes prompt=login and max_age from signIn() to the IdP, which asks for the password again and records a new auth_time', async () => {
    const site = new ConsoleSide();
    const browser = new Browser(REDIRECT_URI);
    await site.finishSignIn(await browser.signIn(await browser.open(await site.startSignIn()), 'operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD));
    const first = signIns.at(-1)!.profile.auth_time;
    await new Promise((r) => setTimeout(r, 1100));

    for (const params of [{ prompt: 'login' }, { max_age: '0' }] as Array<Record<string, string>>) {
      const url = new URL(await site.startSignIn(params));
      expect(Object.fromEntries(url.searchParams)).toMatchObject(params);
      const form = await browser.open(url.href);
      expect(form.kind === 'page' && form.html.includes('<label for="password">Password</label>')).toBe(true);
      const done = await site.finishSignIn(await browser.signIn(form, 'operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD));
      expect(done.status).toBe(302);
      expect(signIns.at(-1)!.profile.auth_time).toBeGreaterThan(first);
    }
    expect(authErrors).toEqual([]);
  });

  it('hands profile() email_verified: false for the unverified account: the console has to refuse it itself', async () => {
    const site = new ConsoleSide();
    const browser = new Browser(REDIRECT_URI);
    await site.finishSignIn(await browser.signIn(await browser.open(await site.startSignIn()), 'unverified@linkbox.lab', PASSWORDS.LAB_UNVERIFIED_PASSWORD));
    expect(signIns.at(-1)!.profile).toMatchObject({ email: 'unverified@linkbox.lab', email_verified: false, groups: ['linkbox-guests'] });
  });
});
