import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkIdentitySetup, discoverIssuer, IdentitySetupError } from '@/lib/auth/startup';

// What start-up refuses about identity: each case is one line that says what to change.

const SECRET = 'a'.repeat(32);
const aws = { mode: 'aws' as const };
const lab = { mode: 'lab' as const };
const good = {
  NEXTAUTH_SECRET: SECRET,
  NEXTAUTH_URL: 'https://ops.example.com',
  OIDC_ISSUER: 'https://idp.example.com/',
  OIDC_CLIENT_ID: 'linkbox-ops-console',
  OIDC_CLIENT_SECRET: 'client-secret',
};

function refusal(config: { mode: 'lab' | 'aws' }, env: Record<string, string | undefined>): string {
  try {
    checkIdentitySetup(config, env);
  } catch (err) {
    expect(err).toBeInstanceOf(IdentitySetupError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('the setup was accepted');
}

describe('the identity setup at start-up', () => {
  it('accepts an https IdP in mode aws, and the lab IdP over http in mode lab', () => {
    expect(checkIdentitySetup(aws, good)).toEqual({ issuer: 'https://idp.example.com', clientId: 'linkbox-ops-console', clientSecret: 'client-secret' });
    expect(checkIdentitySetup(lab, { ...good, NEXTAUTH_URL: 'http://127.0.0.1:3000', OIDC_ISSUER: 'http://127.0.0.1:4567', LAB_ADMIN_PASSWORD: 'x' }).issuer).toBe('http://127.0.0.1:4567');
  });

  it('refuses a missing secret, a short one, and AUTH_SECRET in its place', () => {
    expect(refusal(aws, { ...good, NEXTAUTH_SECRET: undefined })).toMatch(/^NEXTAUTH_SECRET is not set: set it to a random value/);
    expect(refusal(aws, { ...good, NEXTAUTH_SECRET: 'short' })).toMatch(/^NEXTAUTH_SECRET is shorter than 32 characters/);
    expect(refusal(aws, { ...good, NEXTAUTH_SECRET: undefined, AUTH_SECRET: SECRET })).toBe('AUTH_SECRET is set but the console reads only NEXTAUTH_SECRET: rename the variable to NEXTAUTH_SECRET');
  });

  it('names the OIDC settings that are missing', () => {
    expect(refusal(lab, { ...good, OIDC_CLIENT_SECRET: '' })).toMatch(/OIDC_CLIENT_SECRET is not set/);
    expect(refusal(lab, { NEXTAUTH_SECRET: SECRET })).toMatch(/OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET are not set/);
    expect(refusal(lab, { ...good, OIDC_ISSUER: 'idp.example.com' })).toMatch(/OIDC_ISSUER=idp.example.com is not a URL/);
  });

  it('refuses lab accounts, the lab kind of IdP and a console address that is not https in mode aws', () => {
    expect(refusal(aws, { ...good, LAB_OPERATOR_PASSWORD: 'x' })).toMatch(/^LAB_OPERATOR_PASSWORD is set, but lab accounts exist only in the lab/);
    expect(refusal(aws, { ...good, OIDC_ISSUER: 'http://127.0.0.1:4567' })).toMatch(/OIDC_ISSUER must be an https URL in mode "aws"/);
    expect(refusal(aws, { ...good, NEXTAUTH_URL: undefined })).toMatch(/NEXTAUTH_URL must be the console's https address/);
    expect(refusal(aws, { ...good, NEXTAUTH_URL: 'http://ops.example.com' })).toMatch(/NEXTAUTH_URL must be/);
  });
});

describe('discovering the issuer', () => {
  let server: http.Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  /** An IdP whose discovery document answers `answers` in turn (the last one from then on). */
  async function idp(answers: Array<(issuer: string) => { status: number; body: unknown }>): Promise<{ issuer: string; calls: () => number }> {
    let calls = 0;
    server = http.createServer((req, res) => {
      const answer = answers[Math.min(calls++, answers.length - 1)]!(issuer);
      expect(req.url).toBe('/.well-known/openid-configuration');
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { issuer, calls: () => calls };
  }
  const ok = (issuer: string) => ({ status: 200, body: { issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['RS256'] } });
  const settings = (issuer: string) => ({ issuer, clientId: 'c', clientSecret: 's' });
  const noWait = { sleep: async () => {}, firstDelayMs: 1 };

  it('retries an IdP that is still starting (5xx) and accepts it once it answers', async () => {
    const { issuer, calls } = await idp([() => ({ status: 503, body: 'starting' }), () => ({ status: 502, body: '' }), ok]);
    const waits: number[] = [];
    await discoverIssuer(settings(issuer), { firstDelayMs: 1000, sleep: async (ms) => void waits.push(ms) });
    expect(calls()).toBe(3);
    expect(waits).toEqual([1000, 2000]);
  });

  it('gives up with one line after its attempts when nothing answers', async () => {
    const { issuer } = await idp([ok]);
    await new Promise<void>((done) => server!.close(() => done()));
    server = undefined;
    await expect(discoverIssuer(settings(issuer), { ...noWait, attempts: 3 })).rejects.toThrow(new RegExp(`^the OIDC issuer ${issuer} cannot be discovered at ${issuer}/.well-known/openid-configuration after 3 attempts: ECONNREFUSED$`));
  });

  it('refuses at once an issuer whose document names another issuer, lacks an endpoint, or is not there', async () => {
    const other = await idp([(issuer) => ({ status: 200, body: { ...ok(issuer).body, issuer: 'https://elsewhere.example.com' } })]);
    await expect(discoverIssuer(settings(other.issuer), noWait)).rejects.toThrow(/names the issuer "https:\/\/elsewhere.example.com": set OIDC_ISSUER to exactly that/);
    expect(other.calls()).toBe(1);
    await new Promise<void>((done) => server!.close(() => done()));

    const partial = await idp([(issuer) => ({ status: 200, body: { ...ok(issuer).body, jwks_uri: undefined } })]);
    await expect(discoverIssuer(settings(partial.issuer), noWait)).rejects.toThrow(/has no jwks_uri/);
    await new Promise<void>((done) => server!.close(() => done()));

    const missing = await idp([() => ({ status: 404, body: 'not found' })]);
    await expect(discoverIssuer(settings(missing.issuer), noWait)).rejects.toThrow(/answered HTTP 404: check OIDC_ISSUER/);
    expect(missing.calls()).toBe(1);
  });
});
