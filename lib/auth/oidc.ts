import 'server-only';
import type { OAuthConfig } from 'next-auth/providers/oauth';
import type { ConsoleConfig } from '@/lib/config/schema';
import type { SignedInIdentity } from './sessions';

// The console's one sign-in: OpenID Connect against the organisation's IdP (the lab runs one too),
// through next-auth 4. Authorization code with PKCE, state and nonce; `idToken: true` makes next-auth
// verify the ID token with openid-client (signature against the issuer's JWKS, issuer, audience,
// expiry, nonce) and build the profile from its claims, which is all the console reads.

export const OIDC_PROVIDER_ID = 'oidc';

/** Always requested: the subject, a verified email, a display name. */
const BASE_SCOPES = ['openid', 'email', 'profile'];

export interface OidcSettings {
  /** Without a trailing slash, as discovery documents spell it. */
  issuer: string;
  clientId: string;
  clientSecret: string;
}

type Env = Record<string, string | undefined>;

/** OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, or null when one is missing (start-up refuses that). */
export function oidcSettings(env: Env = process.env): OidcSettings | null {
  const issuer = env.OIDC_ISSUER?.trim();
  const clientId = env.OIDC_CLIENT_ID?.trim();
  const clientSecret = env.OIDC_CLIENT_SECRET;
  if (!issuer || !clientId || !clientSecret) return null;
  return { issuer: issuer.replace(/\/+$/, ''), clientId, clientSecret };
}

export function oidcScope(signIn: ConsoleConfig['signIn']): string {
  return [...BASE_SCOPES, ...(signIn.groupsScope ? [signIn.groupsScope] : [])].join(' ');
}

export type ClaimsRefusal = 'no-identity' | 'email-not-verified';

/**
 * Who the ID token's claims say signed in, or why they cannot sign in. An email the IdP has not
 * verified names nobody: anyone can type one into an IdP's profile, and roles are granted by email.
 */
export function identityFromClaims(claims: Record<string, unknown>, groupsClaim: string): { ok: true; identity: SignedInIdentity } | { ok: false; reason: ClaimsRefusal; email: string | null } {
  const email = typeof claims.email === 'string' && claims.email.includes('@') ? claims.email.trim().toLowerCase() : null;
  const subject = typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
  if (!email || !subject) return { ok: false, reason: 'no-identity', email };
  if (!emailVerified(claims)) return { ok: false, reason: 'email-not-verified', email };
  const authTime = claims.auth_time;
  return {
    ok: true,
    identity: {
      subject,
      email,
      name: typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim() : null,
      groups: groupsFrom(claims[groupsClaim]),
      authTime: typeof authTime === 'number' && Number.isInteger(authTime) && authTime > 0 ? authTime : null,
    },
  };
}

function emailVerified(claims: Record<string, unknown>): boolean {
  const yes = (value: unknown) => value === true || value === 'true';
  // Some IdPs send the boolean as a string. Entra ID sends no email_verified for work accounts; its
  // optional claim xms_edov says the tenant owns the address's domain, which is the same assurance there.
  if (claims.email_verified !== undefined) return yes(claims.email_verified);
  return yes(claims.xms_edov) || claims.xms_edov === 1;
}

function groupsFrom(value: unknown): string[] {
  // One group is sometimes sent as a plain string.
  if (typeof value === 'string') return [value];
  if (!Array.isArray(value)) return [];
  return value.filter((g): g is string => typeof g === 'string');
}

interface IdTokenClaims {
  sub: string;
  email?: string;
  name?: string;
}

export function oidcProvider(settings: OidcSettings, signIn: ConsoleConfig['signIn']): OAuthConfig<IdTokenClaims> {
  return {
    id: OIDC_PROVIDER_ID,
    name: 'Single sign-on',
    type: 'oauth',
    wellKnown: `${settings.issuer}/.well-known/openid-configuration`,
    clientId: settings.clientId,
    clientSecret: settings.clientSecret,
    client: { token_endpoint_auth_method: 'client_secret_basic', id_token_signed_response_alg: 'RS256' },
    authorization: { params: { scope: oidcScope(signIn) } },
    idToken: true,
    checks: ['pkce', 'state', 'nonce'],
    // The callbacks read the verified claims themselves (identityFromClaims); next-auth only needs an id.
    profile: (claims) => ({ id: claims.sub, email: claims.email ?? null, name: claims.name ?? null }),
  };
}
