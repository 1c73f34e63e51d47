import 'server-only';
import type { NextAuthOptions } from 'next-auth';
import CredentialsProvider from 'next-auth/providers/credentials';
import type { OAuthConfig } from 'next-auth/providers/oauth';
import { getConfig } from '@/lib/config/load';
import type { ConsoleConfig } from '@/lib/config/schema';
import { LAB_ACCOUNTS, enabledLabAccounts, verifyLabCredentials } from './lab-accounts';
import { roleForSession, type SignInProvider } from '@/lib/roles';
import { SESSION_MAX_AGE_SECONDS, nowInSeconds, sessionVerdict } from './session-lifetime';

// next-auth 4 with JWT sessions. The token carries who signed in, how and when; the role in it is
// recomputed from the config on every read, so the config always wins over what was true at sign-in.

export const LAB_PROVIDER_ID = 'lab';
export const OIDC_PROVIDER_ID = 'oidc';

export class LabSignInRefusedError extends Error {
  constructor(variables: string[]) {
    super(
      `lab sign-in is only available in mode "lab", but this config has mode "aws" and ${variables.join(', ')} ` +
        'is set: unset it, or point LINKBOX_CONFIG at the lab config',
    );
    this.name = 'LabSignInRefusedError';
  }
}

/** Thrown inside the jwt callback to end a session; next-auth then clears the cookie. */
class SessionEndedError extends Error {
  constructor(reason: string) {
    super(`session ended: ${reason}`);
    this.name = 'SessionEndedError';
  }
}

interface OidcProfile {
  sub: string;
  email?: string;
  name?: string;
  groups?: unknown;
}

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
}

type Env = Record<string, string | undefined>;

export function oidcSettings(env: Env = process.env): OidcSettings | null {
  const { OIDC_ISSUER: issuer, OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret } = env;
  if (!issuer || !clientId || !clientSecret) return null;
  return { issuer: issuer.replace(/\/+$/, ''), clientId, clientSecret };
}

/** Which sign-in methods the sign-in page offers; safe to show to anyone. */
export function signInMethods(config: ConsoleConfig = getConfig(), env: Env = process.env): { lab: boolean; oidc: boolean } {
  return { lab: config.mode === 'lab' && enabledLabAccounts(env).length > 0, oidc: oidcSettings(env) !== null };
}

function groupsClaim(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.filter((g): g is string => typeof g === 'string');
}

function oidcProvider(settings: OidcSettings): OAuthConfig<OidcProfile> {
  return {
    id: OIDC_PROVIDER_ID,
    name: 'Single sign-on',
    type: 'oauth',
    wellKnown: `${settings.issuer}/.well-known/openid-configuration`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    authorization: { params: { scope: process.env.OIDC_SCOPE ?? 'openid email profile' } },
    idToken: true,
    checks: ['pkce', 'state'],
    profile(profile) {
      return { id: profile.sub, email: profile.email ?? null, name: profile.name ?? profile.email ?? null, groups: groupsClaim(profile.groups) };
    },
  };
}

function labProvider() {
  return CredentialsProvider({
    id: LAB_PROVIDER_ID,
    name: 'Lab account',
    credentials: { email: { label: 'Email', type: 'email' }, password: { label: 'Password', type: 'password' } },
    async authorize(credentials) {
      // Re-checked here and not only when building the provider list: the config may change under a running console.
      if (getConfig().mode !== 'lab') return null;
      const account = verifyLabCredentials(credentials?.email, credentials?.password);
      return account ? { id: account.email, email: account.email, name: account.email } : null;
    },
  });
}

function buildAuthOptions(config: ConsoleConfig, env: Env): NextAuthOptions {
  const labVariablesSet = LAB_ACCOUNTS.map((a) => a.passwordVariable).filter((v) => !!env[v]);
  if (config.mode !== 'lab' && labVariablesSet.length > 0) throw new LabSignInRefusedError(labVariablesSet);

  const providers: NextAuthOptions['providers'] = [];
  const oidc = oidcSettings(env);
  if (oidc) providers.push(oidcProvider(oidc));
  if (config.mode === 'lab') providers.push(labProvider());

  return {
    providers,
    secret: env.NEXTAUTH_SECRET ?? env.AUTH_SECRET,
    session: { strategy: 'jwt', maxAge: SESSION_MAX_AGE_SECONDS, updateAge: 5 * 60 },
    jwt: { maxAge: SESSION_MAX_AGE_SECONDS },
    // next-auth's cookies are httpOnly and SameSite=Lax; Secure (and the __Secure- prefix) follow the URL's scheme.
    useSecureCookies: (env.NEXTAUTH_URL ?? '').startsWith('https://'),
    pages: { signIn: '/signin', error: '/signin' },
    callbacks: {
      async signIn({ user, account }) {
        const provider = providerOf(account?.provider);
        if (!provider || !user.email) return false;
        const groups = groupsClaim((user as { groups?: unknown }).groups);
        return roleForSession(getConfig(), { email: user.email, groups }, provider) !== null;
      },
      async jwt({ token, user, account, trigger }) {
        const now = nowInSeconds();
        if (user && account) {
          token.provider = providerOf(account.provider) ?? undefined;
          token.groups = groupsClaim((user as { groups?: unknown }).groups);
          token.authTime = now;
          token.lastSeen = now;
        }
        const verdict = sessionVerdict(token, now);
        if (verdict !== 'active') throw new SessionEndedError(verdict);
        if (!token.email || !token.provider) throw new SessionEndedError('no identity');
        const role = roleForSession(getConfig(), { email: token.email, groups: token.groups ?? [] }, token.provider);
        if (!role) throw new SessionEndedError('no role in the config');
        token.role = role;
        // Only the activity ping (a session update) counts as presence; page renders and polling do not.
        if (trigger === 'update') token.lastSeen = now;
        return token;
      },
      async session({ session, token }) {
        return {
          expires: session.expires,
          user: { email: token.email ?? null, name: token.name ?? token.email ?? null },
          role: token.role,
          authTime: token.authTime,
        };
      },
      async redirect({ url, baseUrl }) {
        if (url.startsWith('/') && !url.startsWith('//')) return `${baseUrl}${url}`;
        try {
          return new URL(url).origin === new URL(baseUrl).origin ? url : baseUrl;
        } catch {
          return baseUrl;
        }
      },
    },
    logger: {
      // next-auth's metadata can hold request bodies (a password) or IdP tokens: log the code and message only.
      error(code, metadata) {
        const error = metadata instanceof Error ? metadata : (metadata as { error?: unknown })?.error;
        if (error instanceof SessionEndedError) return;
        const message = error instanceof Error ? error.message : '';
        console.error(`[auth] ${code}${message ? `: ${message}` : ''}`);
      },
      warn(code) {
        console.warn(`[auth] ${code}`);
      },
      debug() {},
    },
  };
}

function providerOf(id: string | undefined): SignInProvider | null {
  if (id === LAB_PROVIDER_ID) return 'lab';
  if (id === OIDC_PROVIDER_ID) return 'oidc';
  return null;
}

let built: { config: ConsoleConfig; options: NextAuthOptions } | undefined;

/** The options for the current config; rebuilt when the config object changes (tests swap it). */
export function authOptions(): NextAuthOptions {
  const config = getConfig();
  if (built?.config !== config) built = { config, options: buildAuthOptions(config, process.env) };
  return built.options;
}
