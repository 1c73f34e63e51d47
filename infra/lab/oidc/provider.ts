import { generateKeyPair, randomBytes } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { Provider, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { LabOidcAccount, LabOidcOptions, LabOidcState } from '../contract';
import { PortInUseError } from '../ports';
import { accountBySub, completePasswords, LAB_OIDC_ACCOUNTS } from './accounts';
import { createMemoryAdapterFactory } from './adapter';
import { handleInteraction } from './interactions';
import { escapeHtml, messagePage, page, sendHtml } from './pages';

// The lab's identity provider: oidc-provider (panva's certified OpenID Provider) on a loopback port,
// with the lab accounts, one confidential client for the console (authorization code + PKCE S256,
// RS256 ID tokens from a key made at start), the groups claim behind a `groups` scope, and the
// lab's own sign-in pages. It runs inside the lab's process, so whatever ends the lab ends it.

export const LAB_OIDC_CLIENT_ID = 'linkbox-ops-console';
/** The scope that releases the groups claim, whatever the claim is called. */
export const LAB_OIDC_GROUPS_SCOPE = 'groups';
export const DEFAULT_GROUPS_CLAIM = 'groups';
/** next-auth 4's callback for the console's provider id `oidc`, under NEXTAUTH_URL's default base path. */
export const DEFAULT_CONSOLE_REDIRECT_URI = 'http://127.0.0.1:3000/api/auth/callback/oidc';
/** The clock control accepts a sign-in up to this old (30 days). */
const MAX_LOGIN_AGE_SECONDS = 30 * 24 * 3600;
/** Claims a groups claim must not replace. */
const RESERVED_CLAIMS = new Set(['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid', 'at_hash', 'c_hash', 'email', 'email_verified', 'name']);

export interface IdentityProvider {
  state(): LabOidcState;
  stop(): Promise<void>;
}

export class LabOidcSettingError extends Error {}

export async function startIdentityProvider(options: LabOidcOptions & { port: number; portSetting: string; log: (line: string) => void }): Promise<IdentityProvider> {
  const { log } = options;
  const groupsClaim = options.groupsClaim ?? DEFAULT_GROUPS_CLAIM;
  if (!/^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$/.test(groupsClaim) || RESERVED_CLAIMS.has(groupsClaim)) {
    throw new LabOidcSettingError(`the groups claim name "${groupsClaim}" is not usable: use a plain claim name such as "groups" or "roles", not a standard claim`);
  }
  const redirectUris = options.redirectUris?.length ? [...options.redirectUris] : [DEFAULT_CONSOLE_REDIRECT_URI];
  for (const uri of redirectUris) {
    if (!/^https?:\/\/[^/]/.test(uri) || uri.includes('#')) {
      throw new LabOidcSettingError(`the console redirect URI "${uri}" is not an absolute http(s) URL without a fragment`);
    }
  }
  const passwords = completePasswords(options.passwords);
  const clientSecret = randomBytes(32).toString('base64url');
  let nextLoginAge = 0;

  // The issuer names the port, so the server listens before the provider exists.
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => sendHtml(res, 503, messagePage('Starting', 'The lab identity provider is starting.'));
  const server = http.createServer((req, res) => handler(req, res));
  await listen(server, options.port, options.portSetting);
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const issuer = `http://127.0.0.1:${port}`;

  try {
    const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
    const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `lab-${randomBytes(6).toString('hex')}`, alg: 'RS256', use: 'sig' };

    const configuration: Configuration = {
      adapter: createMemoryAdapterFactory(),
      jwks: { keys: [signingKey] },
      cookies: { keys: [randomBytes(32).toString('base64url')] },
      clients: [
        {
          client_id: LAB_OIDC_CLIENT_ID,
          client_secret: clientSecret,
          client_name: 'LinkBox Ops Console',
          redirect_uris: redirectUris,
          grant_types: ['authorization_code'],
          response_types: ['code'],
          token_endpoint_auth_method: 'client_secret_basic',
          id_token_signed_response_alg: 'RS256',
          // Every ID token says when the person signed in, asked for or not: re-authentication is judged by it.
          require_auth_time: true,
        },
      ],
      scopes: ['openid'],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], [LAB_OIDC_GROUPS_SCOPE]: [groupsClaim] },
      // The ID token of the code flow carries the scopes' claims too (not only userinfo): next-auth 4
      // builds its profile from the ID token alone when `idToken: true`.
      conformIdTokenClaims: false,
      responseTypes: ['code'],
      pkce: { required: () => true },
      findAccount: (_ctx, sub) => {
        const account = accountBySub(sub);
        if (!account) return undefined;
        return {
          accountId: sub,
          claims: () => ({ sub, email: account.email, email_verified: account.emailVerified, name: account.name, [groupsClaim]: [...account.groups] }),
        };
      },
      // prompt=login and max_age (max_age=0 counts as prompt=login) are oidc-provider's own login policy.
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      features: {
        devInteractions: { enabled: false },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx, form) => {
            ctx.body = page('Sign out — LinkBox lab identity provider', `<h1>Sign out?</h1>\n${form}\n<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`);
          },
          postLogoutSuccessSource: (ctx) => {
            ctx.body = messagePage('Signed out', 'You are signed out of the lab identity provider.');
          },
        },
      },
      ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Session: 12 * 3600, Grant: 12 * 3600 },
      clientBasedCORS: () => false,
      renderError: (ctx: KoaContextWithOIDC, out) => {
        ctx.type = 'html';
        ctx.body = page('Sign-in error — LinkBox lab identity provider', `<h1>Sign-in error</h1>\n<p>${escapeHtml(String(out.error_description ?? out.error))}</p>`);
      },
    };
    const provider = new Provider(issuer, configuration);
    // Server errors are logged by message only: oidc-provider's context can hold a client secret.
    provider.on('server_error', (_ctx: unknown, err: Error) => log(`identity provider error: ${err.message}`));
    // Koa's own 'error' event (untyped here): listened to, so Koa does not print the error with its context.
    (provider as unknown as NodeJS.EventEmitter).on('error', (err: Error) => log(`identity provider error: ${err.message}`));
    // Fails here, not at the first sign-in, when the client's metadata does not validate.
    await provider.Client.find(LAB_OIDC_CLIENT_ID);

    const providerCallback = provider.callback();
    const takeLoginAge = () => {
      const age = nextLoginAge;
      nextLoginAge = 0;
      return age;
    };
    handler = (req, res) => {
      const path = new URL(req.url ?? '/', issuer).pathname;
      if (path === '/_lab/next-login') return void handleNextLogin(req, res);
      if (path.startsWith('/interaction/')) return void handleInteraction(req, res, path, { provider, clientId: LAB_OIDC_CLIENT_ID, passwords, takeLoginAge, log });
      void providerCallback(req, res);
    };

    const handleNextLogin = async (req: IncomingMessage, res: ServerResponse) => {
      const method = req.method ?? 'GET';
      if (method === 'POST') {
        let age: unknown;
        try {
          age = (JSON.parse(await readBody(req)) as { authTimeAgeSeconds?: unknown }).authTimeAgeSeconds;
        } catch {
          return sendJson(res, 400, { error: 'send JSON like {"authTimeAgeSeconds": 1200}' });
        }
        if (typeof age !== 'number' || !Number.isInteger(age) || age < 0 || age > MAX_LOGIN_AGE_SECONDS) {
          return sendJson(res, 400, { error: `authTimeAgeSeconds must be a whole number of seconds from 0 to ${MAX_LOGIN_AGE_SECONDS}` });
        }
        nextLoginAge = age;
        log(`identity provider: the next sign-in will be recorded as ${age} s ago`);
        return sendJson(res, 200, { authTimeAgeSeconds: nextLoginAge });
      }
      if (method === 'GET') return sendJson(res, 200, { authTimeAgeSeconds: nextLoginAge });
      if (method === 'DELETE') {
        nextLoginAge = 0;
        return sendJson(res, 200, { authTimeAgeSeconds: 0 });
      }
      res.setHeader('allow', 'GET, POST, DELETE');
      sendJson(res, 405, { error: `${method} is not supported on /_lab/next-login; use GET, POST or DELETE` });
    };

    const accounts: LabOidcAccount[] = LAB_OIDC_ACCOUNTS.map((a) => ({
      email: a.email,
      name: a.name,
      sub: a.sub,
      role: a.role,
      groups: [...a.groups],
      emailVerified: a.emailVerified,
      passwordVariable: a.passwordVariable,
    }));
    log(`identity provider on ${issuer} (client ${LAB_OIDC_CLIENT_ID}, redirect ${redirectUris.join(', ')})`);

    return {
      state: () => ({
        issuer,
        discoveryUrl: `${issuer}/.well-known/openid-configuration`,
        clientId: LAB_OIDC_CLIENT_ID,
        clientSecret,
        redirectUris: [...redirectUris],
        scopes: ['openid', 'email', 'profile', LAB_OIDC_GROUPS_SCOPE],
        groupsScope: LAB_OIDC_GROUPS_SCOPE,
        groupsClaim,
        accounts: accounts.map((a) => ({ ...a, groups: [...a.groups] })),
        nextLoginUrl: `${issuer}/_lab/next-login`,
      }),
      stop: () => close(server),
    };
  } catch (err) {
    await close(server);
    throw err;
  }
}

function listen(server: http.Server, port: number, setting: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(port, setting) : err));
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

/** Stops listening and ends kept-alive connections (a browser's, the console's), so stop() never waits on them. */
function close(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 4096) throw new Error('body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}
