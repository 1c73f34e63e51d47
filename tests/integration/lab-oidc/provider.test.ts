import { createServer, type Server } from 'node:net';
import { custom, Issuer } from 'openid-client';
import { afterAll, describe, expect, it } from 'vitest';
import { PortInUseError } from '@/infra/lab/ports';
import { LabOidcSettingError, startIdentityProvider, type IdentityProvider } from '@/infra/lab/oidc/provider';
import { consoleRedirectUrisFromEnv } from '@/infra/lab/env';
import { authorizationRequest, Browser } from './browser';

// The identity provider on its own (no moto, no PostgreSQL): its settings, and how it says no to
// settings it cannot honour.

const REDIRECT_URI = 'http://127.0.0.1:3999/api/auth/callback/oidc';
const started: IdentityProvider[] = [];
afterAll(async () => {
  for (const idp of started.splice(0)) await idp.stop();
});

async function start(options: Parameters<typeof startIdentityProvider>[0]): Promise<IdentityProvider> {
  const idp = await startIdentityProvider(options);
  started.push(idp);
  return idp;
}

const quiet = { port: 0, portSetting: 'LAB_OIDC_PORT', log: () => undefined };

describe('the identity provider on its own', () => {
  it('delivers the groups under the claim name it is configured with, still behind the groups scope', async () => {
    const idp = await start({ ...quiet, groupsClaim: 'roles', redirectUris: [REDIRECT_URI], passwords: { LAB_ADMIN_PASSWORD: 'admin-pw-for-claim-test' } });
    const state = idp.state();
    expect(state.groupsClaim).toBe('roles');
    const issuer = await Issuer.discover(state.issuer);
    expect(issuer.metadata.claims_supported).toContain('roles');
    expect(issuer.metadata.claims_supported).not.toContain('groups');
    const client = new issuer.Client({ client_id: state.clientId, client_secret: state.clientSecret, redirect_uris: [REDIRECT_URI] });
    client[custom.clock_tolerance] = 5;

    const browser = new Browser(REDIRECT_URI);
    const request = authorizationRequest(client, { scope: 'openid email groups' });
    const done = await browser.signIn(await browser.open(request.url), 'admin@linkbox.lab', 'admin-pw-for-claim-test');
    if (done.kind !== 'callback') throw new Error(`no callback: ${done.html.slice(0, 300)}`);
    const claims = (await client.callback(REDIRECT_URI, client.callbackParams(done.url), request.checks)).claims();
    expect(claims.roles).toEqual(['linkbox-admins']);
    expect(claims).not.toHaveProperty('groups');
  });

  it('generates a password for an account none was given for, so no account is open with a known one', async () => {
    const idp = await start({ ...quiet, redirectUris: [REDIRECT_URI] });
    const state = idp.state();
    const issuer = await Issuer.discover(state.issuer);
    const client = new issuer.Client({ client_id: state.clientId, client_secret: state.clientSecret, redirect_uris: [REDIRECT_URI] });
    const browser = new Browser(REDIRECT_URI);
    const form = await browser.open(authorizationRequest(client).url);
    for (const guess of ['', 'viewer', 'password', 'undefined']) {
      const answer = await browser.signIn(form, 'viewer@linkbox.lab', guess);
      expect(answer.kind === 'page' && answer.html.includes('Wrong email or password.')).toBe(true);
    }
  });

  it('makes a new client secret and signing key on every start', async () => {
    const [a, b] = [await start({ ...quiet }), await start({ ...quiet })];
    expect(a.state().clientSecret).not.toBe(b.state().clientSecret);
    const kid = async (idp: IdentityProvider) => ((await (await fetch(`${idp.state().issuer}/jwks`)).json()) as { keys: Array<{ kid: string }> }).keys[0]!.kid;
    expect(await kid(a)).not.toBe(await kid(b));
    expect(a.state().redirectUris).toEqual(['http://127.0.0.1:3000/api/auth/callback/oidc']);
  });

  it('names LAB_OIDC_PORT when its port is taken', async () => {
    const holder: Server = createServer();
    await new Promise<void>((ok) => holder.listen(0, '127.0.0.1', () => ok()));
    const address = holder.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const failed = startIdentityProvider({ ...quiet, port });
      await expect(failed).rejects.toBeInstanceOf(PortInUseError);
      await expect(failed).rejects.toThrow(`port ${port} is in use (LAB_OIDC_PORT)`);
    } finally {
      holder.close();
    }
  });

  it('refuses a groups claim name that would shadow a standard claim, and a redirect URI that is not a URL', async () => {
    await expect(startIdentityProvider({ ...quiet, groupsClaim: 'email' })).rejects.toBeInstanceOf(LabOidcSettingError);
    await expect(startIdentityProvider({ ...quiet, redirectUris: ['/api/auth/callback/oidc'] })).rejects.toThrow('is not an absolute http(s) URL');
  });
});

describe('the console redirect URIs from the environment', () => {
  it('follow NEXTAUTH_URL as next-auth 4 builds its callback, PORT without it, LAB_OIDC_REDIRECT_URIS above both', () => {
    expect(consoleRedirectUrisFromEnv({ NEXTAUTH_URL: 'http://127.0.0.1:3210' })).toEqual(['http://127.0.0.1:3210/api/auth/callback/oidc']);
    expect(consoleRedirectUrisFromEnv({ NEXTAUTH_URL: 'https://ops.example.com/console/api/auth/' })).toEqual(['https://ops.example.com/console/api/auth/callback/oidc']);
    expect(consoleRedirectUrisFromEnv({ PORT: '3100' })).toEqual(['http://127.0.0.1:3100/api/auth/callback/oidc', 'http://localhost:3100/api/auth/callback/oidc']);
    expect(consoleRedirectUrisFromEnv({})).toEqual(['http://127.0.0.1:3000/api/auth/callback/oidc', 'http://localhost:3000/api/auth/callback/oidc']);
    expect(consoleRedirectUrisFromEnv({ LAB_OIDC_REDIRECT_URIS: 'http://a:1/cb, http://b:2/cb', NEXTAUTH_URL: 'http://x' })).toEqual(['http://a:1/cb', 'http://b:2/cb']);
  });
});
