import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NextApiRequest, NextApiResponse } from 'next';
import NextAuth from 'next-auth';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authOptions } from '@/lib/auth/options';
import { sessionIdFromCookies } from '@/lib/auth/session-cookie';
import { closeStoreForTests } from '@/lib/store';

// The ID token is checked before anyone is signed in: signature against the issuer's JWKS, issuer,
// audience, expiry and the nonce of this sign-in. A real IdP only issues good tokens, so this is a
// minimal rogue issuer (discovery, JWKS, an authorization endpoint that answers at once, a token
// endpoint) that hands the console's next-auth one defective token per case.

const CONSOLE_URL = 'http://127.0.0.1:3298';
const CLIENT_ID = 'linkbox-ops-console';

type Defect = 'none' | 'other-key' | 'wrong-audience' | 'wrong-issuer' | 'expired' | 'wrong-nonce' | 'alg-none';

let server: http.Server;
let issuer: string;
let dir: string;
let signingKey: KeyLike;
let otherKey: KeyLike;
let defect: Defect = 'none';
/** The nonce of the authorization request in flight, as the IdP would remember it with the code. */
let nonce = '';
const saved = { ...process.env };

async function idToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = { email: 'ops@example.com', email_verified: true, auth_time: now, nonce: defect === 'wrong-nonce' ? 'another-sign-in' : nonce };
  if (defect === 'alg-none') {
    const encode = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    return `${encode({ alg: 'none' })}.${encode({ ...claims, iss: issuer, aud: CLIENT_ID, sub: 'u-1', iat: now, exp: now + 300 })}.`;
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
    .setSubject('u-1')
    .setIssuer(defect === 'wrong-issuer' ? 'https://elsewhere.example.com' : issuer)
    .setAudience(defect === 'wrong-audience' ? 'someone-else' : CLIENT_ID)
    .setIssuedAt(defect === 'expired' ? now - 7200 : now)
    .setExpirationTime(defect === 'expired' ? now - 3600 : now + 300)
    .sign(defect === 'other-key' ? otherKey : signingKey);
}

beforeAll(async () => {
  ({ privateKey: signingKey } = await generateKeyPair('RS256'));
  ({ privateKey: otherKey } = await generateKeyPair('RS256'));
  const jwk = { ...(await exportJWK(signingKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const publicJwk = { kty: jwk.kty, n: jwk.n, e: jwk.e, kid: 'k1', alg: 'RS256', use: 'sig' };
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (body: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, response_types_supported: ['code'], id_token_signing_alg_values_supported: ['RS256'] });
    }
    if (url.pathname === '/jwks') return json({ keys: [publicJwk] });
    if (url.pathname === '/auth') {
      nonce = url.searchParams.get('nonce') ?? '';
      const back = new URL(url.searchParams.get('redirect_uri')!);
      back.searchParams.set('code', 'code-1');
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/token') {
      req.resume();
      return void idToken().then((id_token) => json({ access_token: 'at', token_type: 'Bearer', expires_in: 300, id_token }));
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  dir = mkdtempSync(join(tmpdir(), 'console-id-token-'));
  const configPath = join(dir, 'console.config.json');
  writeFileSync(configPath, JSON.stringify({ mode: 'lab', environments: [{ name: 'local', kind: 'local' }], roles: { viewer: [], operator: ['ops@example.com'], admin: [] } }));
  Object.assign(process.env, {
    LINKBOX_CONFIG: configPath,
    AUDIT_SQLITE_PATH: join(dir, 'console.sqlite'),
    NEXTAUTH_URL: CONSOLE_URL,
    NEXTAUTH_SECRET: 'id-token-integration-secret-0123456789abcdef',
    OIDC_ISSUER: issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: 'rogue-client-secret',
  });
  delete process.env.AUDIT_DATABASE_URL;
});

afterAll(async () => {
  await closeStoreForTests();
  await new Promise<void>((r) => server?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

/** next-auth's API route with the console's options, keeping cookies like a browser. */
async function call(cookies: Map<string, string>, route: string[], init: { method?: string; query?: Record<string, string>; body?: Record<string, string> } = {}) {
  const headers: Record<string, string | string[]> = {};
  let body: unknown;
  const req = { method: init.method ?? 'GET', query: { nextauth: route, ...init.query }, body: init.body, cookies: Object.fromEntries(cookies), headers: { host: new URL(CONSOLE_URL).host } };
  const res = {
    statusCode: 200,
    status(code: number) {
      this.statusCode = code;
      return this;
    },
    setHeader: (name: string, value: string | string[]) => void (headers[name.toLowerCase()] = value),
    getHeader: (name: string) => headers[name.toLowerCase()],
    end: () => undefined,
    send: (value: unknown) => void (body = value),
    json: (value: unknown) => void (body = value),
  };
  const silent = { error: () => {}, warn: () => {}, debug: () => {} };
  await NextAuth(req as unknown as NextApiRequest, res as unknown as NextApiResponse, { ...authOptions(), logger: silent });
  for (const line of ([] as string[]).concat(headers['set-cookie'] ?? [])) {
    const pair = line.split(';')[0]!;
    const value = decodeURIComponent(pair.slice(pair.indexOf('=') + 1));
    if (value === '' || /max-age=0/i.test(line)) cookies.delete(pair.slice(0, pair.indexOf('=')));
    else cookies.set(pair.slice(0, pair.indexOf('=')), value);
  }
  return { location: headers.location as string | undefined, body };
}

async function signInWith(which: Defect): Promise<{ location?: string; sessionId: string | null }> {
  defect = which;
  const cookies = new Map<string, string>();
  const { body: csrf } = await call(cookies, ['csrf']);
  const { body } = await call(cookies, ['signin', 'oidc'], { method: 'POST', body: { csrfToken: (csrf as { csrfToken: string }).csrfToken, callbackUrl: `${CONSOLE_URL}/`, json: 'true' } });
  const authorize = await fetch((body as { url: string }).url, { redirect: 'manual' });
  const back = new URL(authorize.headers.get('location')!);
  const done = await call(cookies, ['callback', 'oidc'], { query: Object.fromEntries(back.searchParams) });
  return { location: done.location, sessionId: await sessionIdFromCookies(cookies) };
}

describe('the ID token', () => {
  it('signs in with a good one (the rogue issuer is otherwise a working IdP)', async () => {
    const result = await signInWith('none');
    expect(result.location).toBe(`${CONSOLE_URL}/`);
    expect(result.sessionId).not.toBeNull();
  });

  it.each<Defect>(['other-key', 'wrong-audience', 'wrong-issuer', 'expired', 'wrong-nonce', 'alg-none'])('is refused when %s', async (which) => {
    const result = await signInWith(which);
    // next-auth's error route, which sends the browser on to the console's sign-in page with the same code.
    expect(result.location).toBe(`${CONSOLE_URL}/api/auth/error?error=OAuthCallback`);
    expect(result.sessionId).toBeNull();
  });
});
