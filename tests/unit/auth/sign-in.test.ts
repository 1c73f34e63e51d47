import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Account, NextAuthOptions, Profile } from 'next-auth';
import type { JWT } from 'next-auth/jwt';
import type { OAuthConfig } from 'next-auth/providers/oauth';
import { NextRequest } from 'next/server';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GET, POST } from '@/app/api/auth/[...nextauth]/route';
import { listAudit } from '@/lib/audit';
import { authOptions, type SignInRequest } from '@/lib/auth/options';
import { findActiveSession } from '@/lib/auth/sessions';
import { MAX_FAILURES_PER_ACCOUNT, MAX_FAILURES_PER_ADDRESS, recordSignInFailure } from '@/lib/auth/throttle';
import { setConfigForTests } from '@/lib/config/load';
import { closeStoreForTests, getStore } from '@/lib/store';

// next-auth's callbacks as the console configures them, called the way next-auth calls them at a
// sign-in and on later requests, with the real store (SQLite in a temp dir). What next-auth itself
// does around them (PKCE, state, nonce, the ID token's checks) runs against a real IdP in
// tests/integration/auth/sessions.test.ts, and against defective tokens in id-token.test.ts.

const NOW = 1_800_000_000;
const admin = { id: 'admin@example.com', role: 'admin' as const, via: 'session' as const };
let dir: string;

function useConfig(roles: { viewer?: string[]; operator?: string[]; admin?: string[] } = {}) {
  setConfigForTests({
    mode: 'aws',
    environments: [{ name: 'local', kind: 'local' }],
    signIn: { groupsClaim: 'https://linkbox.example.com/groups', groupsScope: 'linkbox-groups' },
    roles: { viewer: roles.viewer ?? [], operator: roles.operator ?? ['group:oncall'], admin: roles.admin ?? ['admin@example.com'] },
  });
}

const claims = (over: Record<string, unknown> = {}): Profile =>
  ({ sub: 'u-1', email: 'Ops@Example.com', email_verified: true, name: 'Ops Person', 'https://linkbox.example.com/groups': ['oncall'], auth_time: NOW - 30, ...over }) as Profile;
const account: Account = { provider: 'oidc', type: 'oauth', providerAccountId: 'u-1' };

type Callbacks = Required<NonNullable<NextAuthOptions['callbacks']>>;
const request = (over: Partial<SignInRequest> = {}): SignInRequest => ({ address: '203.0.113.7', previousSessionId: null, ...over });

async function signInCallback(profile: Profile, req = request()) {
  return (authOptions(req).callbacks as Callbacks).signIn({ user: { id: 'u-1' }, account, profile } as never);
}

/** A whole sign-in as next-auth runs it: signIn, then jwt with the account and profile. Returns the cookie's token. */
async function signIn(profile: Profile = claims(), req = request()): Promise<JWT> {
  const options = authOptions(req);
  const cb = options.callbacks as Callbacks;
  expect(await cb.signIn({ user: { id: 'u-1' }, account, profile } as never)).toBe(true);
  return cb.jwt({ token: { email: profile.email, name: profile.name, sub: 'u-1' }, user: { id: 'u-1' }, account, profile, trigger: 'signIn' } as never);
}

/** A later request: next-auth decodes the cookie and calls jwt, then session. */
async function read(token: JWT, trigger?: 'update') {
  const cb = authOptions(request()).callbacks as Callbacks;
  const next = await cb.jwt({ token, trigger } as never);
  return (await cb.session({ session: { expires: 'x' }, token: next } as never)) as { user?: { email: string }; role?: string; authTime?: number | null };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sign-in-test-'));
  delete process.env.AUDIT_DATABASE_URL;
  process.env.AUDIT_SQLITE_PATH = join(dir, 'console.sqlite');
});

afterAll(async () => {
  await closeStoreForTests();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW * 1000);
  vi.stubEnv('NEXTAUTH_SECRET', 'unit-test-secret-0123456789abcdef0123456789');
  vi.stubEnv('OIDC_ISSUER', 'https://idp.example.com/');
  vi.stubEnv('OIDC_CLIENT_ID', 'linkbox-ops-console');
  vi.stubEnv('OIDC_CLIENT_SECRET', 'client-secret');
  useConfig();
  const store = await getStore();
  await store.db.deleteFrom('console_sessions').execute();
  await store.db.deleteFrom('sign_in_failures').execute();
  await store.db.deleteFrom('audit_log').execute();
});

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllEnvs();
});

describe('the OIDC provider', () => {
  it('uses the code flow with PKCE, state and nonce, verifies the ID token, and asks for the configured groups scope', () => {
    const [provider] = authOptions().providers as Array<OAuthConfig<never>>;
    expect(provider).toMatchObject({
      id: 'oidc',
      type: 'oauth',
      wellKnown: 'https://idp.example.com/.well-known/openid-configuration',
      idToken: true,
      checks: ['pkce', 'state', 'nonce'],
      authorization: { params: { scope: 'openid email profile linkbox-groups' } },
    });
  });

  it('reads the secret from NEXTAUTH_SECRET only', () => {
    vi.stubEnv('NEXTAUTH_SECRET', undefined);
    vi.stubEnv('AUTH_SECRET', 'not-this-one-0123456789abcdef0123456789');
    expect(authOptions().secret).toBe('');
  });
});

describe('signing in', () => {
  it('keeps only a session id in the cookie; the store holds who, their groups and the ID token auth_time', async () => {
    const token = await signIn();
    expect(Object.keys(token)).toEqual(['sid']);
    const record = await findActiveSession(token.sid!);
    expect(record).toMatchObject({ email: 'ops@example.com', subject: 'u-1', groups: ['oncall'], authTime: NOW - 30, startedAt: NOW, kind: 'sign-in', address: '203.0.113.7' });
    const store = await getStore();
    const row = await store.db.selectFrom('console_sessions').selectAll().executeTakeFirstOrThrow();
    expect(row.id).not.toBe(token.sid);
    expect((await listAudit(admin))[0]).toMatchObject({ actor: 'ops@example.com', action: 'sign-in', outcome: 'success', detail: 'signed in (from 203.0.113.7)' });
  });

  it('gives the role of the group in the configured claim, and the session says when the password was typed', async () => {
    const session = await read(await signIn());
    expect(session).toMatchObject({ user: { email: 'ops@example.com' }, role: 'operator', authTime: NOW - 30 });
  });

  it('records a missing auth_time as unknown, never as now', async () => {
    const token = await signIn(claims({ auth_time: undefined }));
    expect((await findActiveSession(token.sid!))!.authTime).toBeNull();
  });

  it('refuses an email the IdP has not verified, even one the config lists, and says so on the sign-in page', async () => {
    useConfig({ viewer: ['unverified@example.com'] });
    for (const email_verified of [false, 'false', undefined]) {
      expect(await signInCallback(claims({ email: 'unverified@example.com', email_verified, 'https://linkbox.example.com/groups': [] }))).toBe('/signin?error=EmailNotVerified');
    }
    expect(await signInCallback(claims({ email: 'unverified@example.com', email_verified: 'true', 'https://linkbox.example.com/groups': [] }))).toBe(true);
    // Entra ID: no email_verified at all, but its optional claim xms_edov (the tenant owns the domain).
    expect(await signInCallback(claims({ email: 'unverified@example.com', email_verified: undefined, xms_edov: true, 'https://linkbox.example.com/groups': [] }))).toBe(true);
    expect(await signInCallback(claims({ email: 'unverified@example.com', email_verified: false, xms_edov: true, 'https://linkbox.example.com/groups': [] }))).toBe('/signin?error=EmailNotVerified');
    const [entry] = await listAudit(admin);
    expect(entry).toMatchObject({ actor: 'unverified@example.com', action: 'sign-in', outcome: 'refused', detail: 'refused: the identity provider has not verified their email address (from 203.0.113.7)' });
  });

  it('refuses someone the config grants no role, and an ID token without an email', async () => {
    expect(await signInCallback(claims({ 'https://linkbox.example.com/groups': ['marketing'] }))).toBe('/signin?error=AccessDenied');
    expect(await signInCallback(claims({ groups: ['oncall'], 'https://linkbox.example.com/groups': undefined }))).toBe('/signin?error=AccessDenied');
    expect(await signInCallback(claims({ email: undefined }))).toBe('/signin?error=NoIdentity');
  });

  it('sends the person back only to a path on the console', async () => {
    const redirect = (authOptions().callbacks as Callbacks).redirect;
    expect(await redirect({ url: '/environments/production', baseUrl: 'http://127.0.0.1:3000' })).toBe('http://127.0.0.1:3000/environments/production');
    expect(await redirect({ url: 'https://evil.example/', baseUrl: 'http://127.0.0.1:3000' })).toBe('http://127.0.0.1:3000/');
    expect(await redirect({ url: '/\\evil.example', baseUrl: 'http://127.0.0.1:3000' })).toBe('http://127.0.0.1:3000/');
  });
});

describe('a session on later requests', () => {
  it('follows the config: a changed role at the next request, and none at all ends the session for good', async () => {
    const token = await signIn();
    useConfig({ admin: ['group:oncall'] });
    expect((await read(token)).role).toBe('admin');
    useConfig({ operator: [] });
    await expect(read(token)).rejects.toThrow(/session ended/);
    useConfig();
    await expect(read(token)).rejects.toThrow(/session ended/);
    expect((await listAudit(admin))[0]).toMatchObject({ actor: 'ops@example.com', action: 'session.end', detail: 'the console config no longer grants them a role' });
  });

  it('ends on the server after 30 idle minutes, and activity (a session update) moves that clock', async () => {
    const token = await signIn();
    vi.setSystemTime((NOW + 20 * 60) * 1000);
    await read(token, 'update');
    vi.setSystemTime((NOW + 45 * 60) * 1000);
    expect((await read(token)).role).toBe('operator');
    vi.setSystemTime((NOW + 20 * 60 + 30 * 60) * 1000);
    await expect(read(token)).rejects.toThrow(/session ended/);
    const store = await getStore();
    expect((await store.db.selectFrom('console_sessions').select('end_reason').executeTakeFirstOrThrow()).end_reason).toBe('idle for 30 minutes');
  });

  it('ends 8 hours after sign-in whatever the activity', async () => {
    const token = await signIn();
    for (let minute = 20; minute < 8 * 60; minute += 20) {
      vi.setSystemTime((NOW + minute * 60) * 1000);
      await read(token, 'update');
    }
    vi.setSystemTime((NOW + 8 * 3600) * 1000);
    await expect(read(token)).rejects.toThrow(/session ended/);
  });

  it('ends at sign-out, so the same cookie is refused afterwards', async () => {
    const token = await signIn();
    await authOptions(request()).events!.signOut!({ token, session: undefined as never });
    await expect(read(token)).rejects.toThrow(/session ended/);
    expect((await listAudit(admin))[0]).toMatchObject({ actor: 'ops@example.com', action: 'sign-out', outcome: 'success' });
  });

  it('keeps session rows for 30 days after sign-in, then deletes them as new sign-ins arrive', async () => {
    await signIn();
    vi.setSystemTime((NOW + 31 * 24 * 3600) * 1000);
    await signIn();
    const store = await getStore();
    expect(await store.db.selectFrom('console_sessions').select('started_at').execute()).toEqual([{ started_at: new Date((NOW + 31 * 24 * 3600) * 1000).toISOString() }]);
  });

  it('refuses a token without a session id or with one the store does not know', async () => {
    await expect(read({})).rejects.toThrow(/session ended/);
    await expect(read({ sid: 'made-up' })).rejects.toThrow(/session ended/);
  });
});

describe('re-authentication', () => {
  it('a sign-in over a live session of the same person replaces it, and counts as fresh when the IdP asked for the password', async () => {
    const first = await signIn(claims({ auth_time: NOW - 3600 }));
    const second = await signIn(claims({ auth_time: NOW - 5 }), request({ previousSessionId: first.sid! }));
    await expect(read(first)).rejects.toThrow(/session ended/);
    expect(await findActiveSession(second.sid!)).toMatchObject({ kind: 're-authentication', authTime: NOW - 5 });
    expect((await listAudit(admin))[0]).toMatchObject({ action: 're-authentication', outcome: 'success' });
  });

  it('one the IdP let through without asking (an old auth_time) is signed in but counted and audited as a failed re-authentication', async () => {
    const first = await signIn(claims({ auth_time: NOW - 3600 }));
    const second = await signIn(claims({ auth_time: NOW - 3600 }), request({ previousSessionId: first.sid! }));
    expect(await findActiveSession(second.sid!)).toMatchObject({ kind: 're-authentication', authTime: NOW - 3600 });
    const [entry] = await listAudit(admin);
    expect(entry).toMatchObject({ action: 're-authentication', outcome: 'refused' });
    expect(entry!.detail).toMatch(/without asking for their password \(its sign-in is 60 minutes old\)/);
    const store = await getStore();
    expect(await store.db.selectFrom('sign_in_failures').select(['kind', 'account']).execute()).toEqual([{ kind: 're-authentication', account: 'ops@example.com' }]);
  });

  it('a sign-in by someone else in the same browser is a plain sign-in, and ends the other session', async () => {
    const first = await signIn();
    const other = await signIn(claims({ sub: 'u-2', email: 'admin@example.com', 'https://linkbox.example.com/groups': [] }), request({ previousSessionId: first.sid! }));
    expect(await findActiveSession(other.sid!)).toMatchObject({ kind: 'sign-in', email: 'admin@example.com' });
    await expect(read(first)).rejects.toThrow(/session ended/);
  });
});

describe('throttling', () => {
  it(`refuses an account after ${MAX_FAILURES_PER_ACCOUNT} failures in 15 minutes, even with good claims, until they leave the window`, async () => {
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) {
      expect(await signInCallback(claims({ email_verified: false }), request({ address: `198.51.100.${i}` }))).toBe('/signin?error=EmailNotVerified');
    }
    expect(await signInCallback(claims(), request({ address: '198.51.100.200' }))).toBe('/signin?error=TooManyAttempts');
    expect((await listAudit(admin))[0]).toMatchObject({ actor: 'ops@example.com', outcome: 'refused', detail: expect.stringMatching(/too many failed sign-ins for the account/) });
    // A fresh options object (as every request builds) sees the same count: it lives in the store.
    vi.setSystemTime((NOW + 15 * 60 + 1) * 1000);
    expect(await signInCallback(claims(), request({ address: '198.51.100.200' }))).toBe(true);
  });

  it(`refuses an address after ${MAX_FAILURES_PER_ADDRESS} failures, whichever accounts they were for`, async () => {
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) {
      expect(await signInCallback(claims({ sub: `s-${i}`, email: `person${i}@example.com`, 'https://linkbox.example.com/groups': [] }))).toBe('/signin?error=AccessDenied');
    }
    expect(await signInCallback(claims())).toBe('/signin?error=TooManyAttempts');
    expect(await signInCallback(claims(), request({ address: '198.51.100.1' }))).toBe(true);
  });

  it('counts failed re-authentications towards the same limit', async () => {
    let token = await signIn(claims({ auth_time: NOW - 3600 }));
    for (let i = 0; i < MAX_FAILURES_PER_ACCOUNT; i++) token = await signIn(claims({ auth_time: NOW - 3600 }), request({ previousSessionId: token.sid! }));
    expect(await signInCallback(claims({ auth_time: NOW }), request({ previousSessionId: token.sid! }))).toBe('/signin?error=TooManyAttempts');
  });

  it('refuses an address over its limit before sending it to the IdP, at the start and at the way back', async () => {
    for (let i = 0; i < MAX_FAILURES_PER_ADDRESS; i++) await recordSignInFailure({ kind: 'sign-in', account: null, address: '198.51.100.9', reason: 'refused: test' });
    const request = (method: string, path: string, forwardedFor: string) =>
      new NextRequest(`http://127.0.0.1:3000/api/auth/${path}`, { method, headers: { 'x-forwarded-for': forwardedFor } });
    const context = (route: string[]) => ({ params: Promise.resolve({ nextauth: route }) });

    const start = await POST(request('POST', 'signin/oidc', '198.51.100.9'), context(['signin', 'oidc']));
    expect(await start.json()).toEqual({ url: '/signin?error=TooManyAttempts' });
    const back = await GET(request('GET', 'callback/oidc?code=x&state=y', '198.51.100.9'), context(['callback', 'oidc']));
    expect(back.status).toBe(302);
    expect(back.headers.get('location')).toBe('/signin?error=TooManyAttempts');
    expect((await listAudit(admin))[0]).toMatchObject({ actor: 'anonymous', action: 'sign-in', outcome: 'refused', detail: expect.stringMatching(/too many failed sign-ins from the address.*\(from 198\.51\.100\.9\)/) });
  });
});
