import { readFile } from 'node:fs/promises';
import { custom, Issuer, type BaseClient, type IdTokenClaims, type TokenSet } from 'openid-client';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LabState } from '@/infra/lab/contract';
import { labApi, startTestLab, type TestLab } from '../support/lab';
import { authorizationRequest, Browser, type Checks, type Stop } from './browser';

// The lab's identity provider as the console will meet it: discovered and driven by openid-client
// (the library under next-auth 4), through the authorization code flow with PKCE, state and nonce,
// signing in on the IdP's own form with the lab accounts' passwords.

const REDIRECT_URI = 'http://127.0.0.1:3210/api/auth/callback/oidc';
const PASSWORDS = {
  LAB_VIEWER_PASSWORD: 'viewer-idp-test-password',
  LAB_OPERATOR_PASSWORD: 'operator-idp-test-password',
  LAB_ADMIN_PASSWORD: 'admin-idp-test-password',
  LAB_UNVERIFIED_PASSWORD: 'unverified-idp-test-password',
};

let lab: TestLab;
let client: BaseClient;

beforeAll(async () => {
  lab = await startTestLab({ oidc: { redirectUris: [REDIRECT_URI], passwords: PASSWORDS } });
  const issuer = await Issuer.discover(lab.oidc.issuer);
  client = new issuer.Client({ client_id: lab.oidc.clientId, client_secret: lab.oidc.clientSecret, redirect_uris: [REDIRECT_URI], response_types: ['code'] });
  // auth_time is checked against max_age by openid-client to the second; the two clocks are one here.
  client[custom.clock_tolerance] = 5;
});

const now = () => Math.floor(Date.now() / 1000);

/** The callback as next-auth handles it: code exchanged, ID token validated (signature, iss, aud, nonce, PKCE). */
async function finish(stop: Stop, checks: Checks, extra: { max_age?: number } = {}): Promise<{ tokens: TokenSet; claims: IdTokenClaims }> {
  if (stop.kind !== 'callback') throw new Error(`expected the callback, got a page (${stop.status}): ${stop.html.slice(0, 400)}`);
  const params = client.callbackParams(stop.url);
  const tokens = await client.callback(REDIRECT_URI, params, { ...checks, ...extra });
  return { tokens, claims: tokens.claims() };
}

async function signIn(email: string, password: string, params: Record<string, string | number> = {}, browser = new Browser(REDIRECT_URI)) {
  const request = authorizationRequest(client, params);
  const form = await browser.open(request.url);
  return finish(await browser.signIn(form, email, password), request.checks, typeof params.max_age === 'number' ? { max_age: params.max_age } : {});
}

function isLoginForm(stop: Stop): boolean {
  return stop.kind === 'page' && stop.html.includes('<button type="submit">Sign in</button>');
}

async function nextSecond(): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
}

describe('the lab identity provider', () => {
  it('publishes discovery and keys for a code flow with PKCE S256, RS256 ID tokens and a groups scope', async () => {
    const issuer = await Issuer.discover(lab.oidc.issuer);
    expect(issuer.metadata.issuer).toBe(lab.oidc.issuer);
    expect(lab.oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(issuer.metadata.response_types_supported).toEqual(['code']);
    expect(issuer.metadata.code_challenge_methods_supported).toEqual(['S256']);
    expect(issuer.metadata.id_token_signing_alg_values_supported).toContain('RS256');
    expect(issuer.metadata.scopes_supported).toEqual(expect.arrayContaining(['openid', 'email', 'profile', 'groups']));
    expect(issuer.metadata.claims_supported).toEqual(expect.arrayContaining(['email', 'email_verified', 'groups', 'auth_time']));
    expect(issuer.metadata.userinfo_endpoint).toBe(`${lab.oidc.issuer}/me`);
    const jwks = (await (await fetch(issuer.metadata.jwks_uri!)).json()) as { keys: Array<Record<string, string>> };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
  });

  it('signs in with a correct password: an ID token validated against the JWKS names the account, verified, and when', async () => {
    const before = now();
    const { tokens, claims } = await signIn('operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD);
    expect(claims.iss).toBe(lab.oidc.issuer);
    expect(claims.aud).toBe(lab.oidc.clientId);
    expect(claims).toMatchObject({ sub: 'lab-operator', email: 'operator@linkbox.lab', email_verified: true, name: 'Lab Operator' });
    expect(claims.auth_time).toBeGreaterThanOrEqual(before);
    expect(claims.auth_time).toBeLessThanOrEqual(now());
    // Without the groups scope, no groups: not in the ID token, not at userinfo.
    expect(claims).not.toHaveProperty('groups');
    const userinfo = await client.userinfo(tokens);
    expect(userinfo).toMatchObject({ sub: 'lab-operator', email: 'operator@linkbox.lab', email_verified: true });
    expect(userinfo).not.toHaveProperty('groups');

    // The signature is the published key's: the header names it, and openid-client checked it.
    const header = JSON.parse(Buffer.from(tokens.id_token!.split('.')[0]!, 'base64url').toString()) as { alg: string; kid: string };
    const jwks = (await (await fetch(`${lab.oidc.issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> };
    expect(header.alg).toBe('RS256');
    expect(jwks.keys.map((k) => k.kid)).toContain(header.kid);
  });

  it('releases the groups claim when the groups scope asks for it, in the ID token and at userinfo', async () => {
    const { tokens, claims } = await signIn('admin@linkbox.lab', PASSWORDS.LAB_ADMIN_PASSWORD, { scope: 'openid email profile groups' });
    expect(claims.groups).toEqual(['linkbox-admins']);
    expect(await client.userinfo(tokens)).toMatchObject({ email: 'admin@linkbox.lab', groups: ['linkbox-admins'] });
  });

  it('refuses a wrong password on its form, says so, keeps the email and never echoes the password', async () => {
    const browser = new Browser(REDIRECT_URI);
    const request = authorizationRequest(client);
    const form = await browser.open(request.url);
    expect(isLoginForm(form)).toBe(true);

    const refused = await browser.signIn(form, 'viewer@linkbox.lab', 'not-the-password');
    expect(refused.kind).toBe('page');
    if (refused.kind !== 'page') return;
    expect(refused.html).toContain('<p role="alert" id="login-error">Wrong email or password.</p>');
    expect(refused.html).toContain('value="viewer@linkbox.lab"');
    expect(refused.html).not.toContain('not-the-password');
    expect(isLoginForm(refused)).toBe(true);

    // Another account's password is just as wrong.
    const crossed = await browser.signIn(refused, 'viewer@linkbox.lab', PASSWORDS.LAB_ADMIN_PASSWORD);
    expect(crossed.kind === 'page' && crossed.html.includes('Wrong email or password.')).toBe(true);

    // The same form, with the right password, completes the flow.
    const { claims } = await finish(await browser.signIn(crossed, 'viewer@linkbox.lab', PASSWORDS.LAB_VIEWER_PASSWORD), request.checks);
    expect(claims.email).toBe('viewer@linkbox.lab');
  });

  it('says email_verified: false for the account whose email it has not verified', async () => {
    const { claims } = await signIn('unverified@linkbox.lab', PASSWORDS.LAB_UNVERIFIED_PASSWORD, { scope: 'openid email profile groups' });
    expect(claims).toMatchObject({ email: 'unverified@linkbox.lab', email_verified: false, groups: ['linkbox-guests'] });
  });

  it('requires PKCE: a request without a code challenge is sent back with invalid_request', async () => {
    const url = new URL(authorizationRequest(client).url);
    url.searchParams.delete('code_challenge');
    url.searchParams.delete('code_challenge_method');
    const stop = await new Browser(REDIRECT_URI).open(url.href);
    expect(stop.kind).toBe('callback');
    expect(new URL(stop.url).searchParams.get('error')).toBe('invalid_request');
  });

  it('sends nobody to a redirect URI that was not registered', async () => {
    const other = new (await Issuer.discover(lab.oidc.issuer)).Client({ client_id: lab.oidc.clientId, client_secret: lab.oidc.clientSecret, redirect_uris: ['http://127.0.0.1:9/elsewhere'] });
    const stop = await new Browser('http://127.0.0.1:9/elsewhere').open(authorizationRequest(other).url);
    expect(stop.kind).toBe('page');
    expect(stop.kind === 'page' && stop.status).toBe(400);
  });

  it('honours prompt=login: the form again despite the IdP session, and a later auth_time', async () => {
    const browser = new Browser(REDIRECT_URI);
    const first = await signIn('operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD, {}, browser);
    await nextSecond();

    // The IdP session alone signs in again, with the first auth_time.
    const silent = authorizationRequest(client);
    const again = await finish(await browser.open(silent.url), silent.checks);
    expect(again.claims.auth_time).toBe(first.claims.auth_time);

    const forced = authorizationRequest(client, { prompt: 'login' });
    const form = await browser.open(forced.url);
    expect(isLoginForm(form)).toBe(true);
    const fresh = await finish(await browser.signIn(form, 'operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD), forced.checks);
    expect(fresh.claims.auth_time).toBeGreaterThan(first.claims.auth_time!);
  });

  it('honours max_age: 0 asks for the form even from a sign-in this very second, a larger one does not', async () => {
    const browser = new Browser(REDIRECT_URI);
    // At the start of a second, so the next request most likely comes within the same second as
    // the sign-in: "more than 0 seconds ago" does not hold yet, and max_age=0 must ask all the same.
    await nextSecond();
    const first = await signIn('viewer@linkbox.lab', PASSWORDS.LAB_VIEWER_PASSWORD, {}, browser);
    const zero = authorizationRequest(client, { max_age: 0 });
    const form = await browser.open(zero.url);
    expect(isLoginForm(form)).toBe(true);

    const recentEnough = authorizationRequest(client, { max_age: 600 });
    const kept = await finish(await browser.open(recentEnough.url), recentEnough.checks, { max_age: 600 });
    expect(kept.claims.auth_time).toBe(first.claims.auth_time);

    await nextSecond();
    const fresh = await finish(await browser.signIn(form, 'viewer@linkbox.lab', PASSWORDS.LAB_VIEWER_PASSWORD), zero.checks);
    expect(fresh.claims.auth_time).toBeGreaterThan(first.claims.auth_time!);
  });

  it('can record the next sign-in as older, once: its auth_time is in the past and max_age then asks again', async () => {
    const set = await fetch(lab.oidc.nextLoginUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ authTimeAgeSeconds: 20 * 60 }) });
    expect(set.status).toBe(200);
    expect(await (await fetch(lab.oidc.nextLoginUrl)).json()).toEqual({ authTimeAgeSeconds: 1200 });

    const browser = new Browser(REDIRECT_URI);
    const old = await signIn('operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD, {}, browser);
    expect(now() - old.claims.auth_time!).toBeGreaterThanOrEqual(1200);
    expect(now() - old.claims.auth_time!).toBeLessThan(1210);
    expect(await (await fetch(lab.oidc.nextLoginUrl)).json()).toEqual({ authTimeAgeSeconds: 0 });

    // A console asking for a sign-in from the last 15 minutes gets the form, and a fresh auth_time.
    const reauth = authorizationRequest(client, { max_age: 900 });
    const form = await browser.open(reauth.url);
    expect(isLoginForm(form)).toBe(true);
    const fresh = await finish(await browser.signIn(form, 'operator@linkbox.lab', PASSWORDS.LAB_OPERATOR_PASSWORD), reauth.checks, { max_age: 900 });
    expect(now() - fresh.claims.auth_time!).toBeLessThanOrEqual(5);

    const bad = await fetch(lab.oidc.nextLoginUrl, { method: 'POST', body: JSON.stringify({ authTimeAgeSeconds: -5 }) });
    expect(bad.status).toBe(400);
  });

  it('is described in /_lab/state and the console config without any password', async () => {
    const { status, body } = await labApi<LabState>(lab, 'GET', '/_lab/state');
    expect(status).toBe(200);
    expect(body.oidc).toMatchObject({
      issuer: lab.oidc.issuer,
      discoveryUrl: `${lab.oidc.issuer}/.well-known/openid-configuration`,
      clientId: 'linkbox-ops-console',
      clientSecret: lab.oidc.clientSecret,
      redirectUris: [REDIRECT_URI],
      groupsScope: 'groups',
      groupsClaim: 'groups',
      nextLoginUrl: `${lab.oidc.issuer}/_lab/next-login`,
    });
    expect(body.oidc.clientSecret.length).toBeGreaterThanOrEqual(40);
    expect(body.oidc.accounts.map((a) => [a.email, a.role, a.groups, a.emailVerified, a.passwordVariable])).toEqual([
      ['viewer@linkbox.lab', 'viewer', ['linkbox-viewers'], true, 'LAB_VIEWER_PASSWORD'],
      ['operator@linkbox.lab', 'operator', ['linkbox-operators'], true, 'LAB_OPERATOR_PASSWORD'],
      ['admin@linkbox.lab', 'admin', ['linkbox-admins'], true, 'LAB_ADMIN_PASSWORD'],
      ['unverified@linkbox.lab', 'viewer', ['linkbox-guests'], false, 'LAB_UNVERIFIED_PASSWORD'],
    ]);
    const text = JSON.stringify(body);
    for (const password of Object.values(PASSWORDS)) expect(text).not.toContain(password);

    const config = JSON.parse(await readFile(lab.configPath, 'utf8')) as { roles: Record<string, string[]>; signIn: unknown };
    expect(config.signIn).toEqual({ groupsClaim: 'groups', groupsScope: 'groups' });
    expect(config.roles).toEqual({
      viewer: ['viewer@linkbox.lab', 'unverified@linkbox.lab', 'group:linkbox-viewers'],
      operator: ['operator@linkbox.lab', 'group:linkbox-operators'],
      admin: ['admin@linkbox.lab', 'group:linkbox-admins'],
    });
  });

  it('logs sign-ins without any password or the client secret', () => {
    const log = lab.logLines.join('\n');
    expect(log).toContain('identity provider: operator@linkbox.lab signed in');
    expect(log).toContain('identity provider: a sign-in with a wrong email or password was refused');
    for (const secret of [...Object.values(PASSWORDS), 'not-the-password', lab.oidc.clientSecret]) expect(log).not.toContain(secret);
  });

  it('stops with the lab', async () => {
    const discovery = lab.oidc.discoveryUrl;
    expect((await fetch(discovery)).status).toBe(200);
    await lab.stop();
    await expect(fetch(discovery, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});
