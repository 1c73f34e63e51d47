import 'server-only';
import type { NextAuthOptions } from 'next-auth';
import type { JWT } from 'next-auth/jwt';
import { getConfig } from '@/lib/config/load';
import { resolveRole } from '@/lib/roles';
import { identityFromClaims, OIDC_PROVIDER_ID, oidcProvider, oidcSettings } from './oidc';
import { checkSignInFreshness } from './reauth';
import { safeReturnPath } from './return-path';
import { sessionCookieSecure } from './session-cookie';
import { SESSION_MAX_AGE_SECONDS } from './session-lifetime';
import { endSession, findActiveSession, resolveSession, startSession, touchSession, type SessionInfo, type SessionKind } from './sessions';
import { auditSignIn, recordSignInFailure, signInThrottle } from './throttle';

// next-auth 4, configured for one request. The JWT cookie holds only a session id: who signed in,
// when, and whether the session still stands live in the store (./sessions.ts), so every request —
// next-auth's own session endpoint included — sees sign-outs, admins' ends, timeouts and config
// changes. Options are built per request: they carry the request's client address and the session
// the browser already had (a sign-in over a live session of the same person is a re-authentication).

export interface SignInRequest {
  /** The client address (./client-address.ts), for throttling and the audit log. */
  address: string | null;
  /** The session id in the request's cookie, if any. */
  previousSessionId: string | null;
}

/** The sign-in page's error codes the console itself sends (next-auth adds OAuthCallback and others). */
export const CONSOLE_SIGN_IN_ERRORS = {
  emailNotVerified: 'EmailNotVerified',
  noRole: 'AccessDenied',
  noIdentity: 'NoIdentity',
  throttled: 'TooManyAttempts',
} as const;

const refusedTo = (code: string) => `/signin?error=${code}`;

/** Thrown inside the jwt callback to end a session; next-auth then clears the cookie. */
class SessionEndedError extends Error {
  constructor() {
    super('session ended');
    this.name = 'SessionEndedError';
  }
}

function minutesAgo(authTime: number | null): string {
  if (authTime === null) return 'the ID token did not say when they last signed in';
  return `its sign-in is ${Math.round((Date.now() / 1000 - authTime) / 60)} minutes old`;
}

export function authOptions(request: SignInRequest = { address: null, previousSessionId: null }): NextAuthOptions {
  const config = getConfig();
  const settings = oidcSettings();
  const { address } = request;

  // Looked up once per request: the session this browser had before this sign-in.
  let previous: Promise<{ sessionId: string; email: string } | null> | undefined;
  const previousSession = () =>
    (previous ??= request.previousSessionId
      ? findActiveSession(request.previousSessionId).then((record) => (record ? { sessionId: request.previousSessionId!, email: record.email } : null))
      : Promise.resolve(null));
  const kindOf = async (email: string | null): Promise<SessionKind> => (email && (await previousSession())?.email === email ? 're-authentication' : 'sign-in');
  // The jwt callback's answer for the session callback that follows it in the same request.
  const resolved = new WeakMap<JWT, SessionInfo>();

  return {
    providers: settings ? [oidcProvider(settings, config.signIn)] : [],
    // Never undefined: next-auth would then fall back to AUTH_SECRET, which the proxy and pages do not read.
    secret: process.env.NEXTAUTH_SECRET ?? '',
    session: { strategy: 'jwt', maxAge: SESSION_MAX_AGE_SECONDS, updateAge: 5 * 60 },
    jwt: { maxAge: SESSION_MAX_AGE_SECONDS },
    // next-auth's cookies are httpOnly and SameSite=Lax; Secure (and the __Secure- prefix) follow the URL's scheme.
    useSecureCookies: sessionCookieSecure(),
    pages: { signIn: '/signin', error: '/signin' },
    callbacks: {
      async signIn({ account, profile }) {
        if (account?.provider !== OIDC_PROVIDER_ID || !profile) return false;
        const claims = identityFromClaims(profile as Record<string, unknown>, config.signIn.groupsClaim);
        const email = claims.ok ? claims.identity.email : claims.email;
        const kind = await kindOf(email);
        const throttle = await signInThrottle({ account: email, address });
        if (throttle.limited) {
          await auditSignIn({ kind, account: email, address, reason: throttle.reason });
          return refusedTo(CONSOLE_SIGN_IN_ERRORS.throttled);
        }
        if (!claims.ok) {
          const notVerified = claims.reason === 'email-not-verified';
          await recordSignInFailure({
            kind,
            account: email,
            address,
            reason: notVerified ? 'refused: the identity provider has not verified their email address' : 'refused: the ID token has no subject or email',
          });
          return refusedTo(notVerified ? CONSOLE_SIGN_IN_ERRORS.emailNotVerified : CONSOLE_SIGN_IN_ERRORS.noIdentity);
        }
        if (!resolveRole(config.roles, claims.identity)) {
          await recordSignInFailure({ kind, account: email, address, reason: 'refused: the console config grants them no role' });
          return refusedTo(CONSOLE_SIGN_IN_ERRORS.noRole);
        }
        return true;
      },
      async jwt({ token, account, profile, trigger }) {
        if (account && profile) {
          // The signIn callback has just accepted these claims.
          const claims = identityFromClaims(profile as Record<string, unknown>, config.signIn.groupsClaim);
          if (!claims.ok) throw new SessionEndedError();
          const { identity } = claims;
          const kind = await kindOf(identity.email);
          const sessionId = await startSession(identity, { kind, address });
          const before = await previousSession();
          if (before) await endSession(before.sessionId, 'replaced by a new sign-in');
          if (kind === 're-authentication' && !checkSignInFreshness(identity.authTime).ok) {
            // Signed in, but not proven again: the dangerous action stays refused, and this counts as a failure.
            await recordSignInFailure({
              kind,
              account: identity.email,
              address,
              reason: `refused: the identity provider signed them in again without asking for their password (${minutesAgo(identity.authTime)})`,
            });
          } else {
            await auditSignIn({ kind, account: identity.email, address, reason: kind === 'sign-in' ? 'signed in' : 'signed in again and typed their password', outcome: 'success' });
          }
          return { sid: sessionId };
        }
        const sessionId = token.sid;
        const session = typeof sessionId === 'string' ? await resolveSession(sessionId) : null;
        if (!session) throw new SessionEndedError();
        // Only the activity ping (a session update) counts as presence; page renders and polling do not.
        if (trigger === 'update') await touchSession(sessionId!);
        const next: JWT = { sid: sessionId };
        resolved.set(next, session);
        return next;
      },
      async session({ session, token }) {
        const info = resolved.get(token) ?? (typeof token.sid === 'string' ? await resolveSession(token.sid) : null);
        if (!info) return { expires: session.expires };
        return { expires: session.expires, user: { email: info.caller.id, name: info.caller.id }, role: info.caller.role, authTime: info.authTime };
      },
      async redirect({ url, baseUrl }) {
        return `${baseUrl}${safeReturnPath(url, baseUrl)}`;
      },
    },
    events: {
      async signOut({ token }) {
        const sessionId = token?.sid;
        if (typeof sessionId !== 'string') return;
        const record = await findActiveSession(sessionId);
        await endSession(sessionId, 'signed out');
        if (record) await auditSignIn({ kind: 'sign-out', account: record.email, address, reason: 'signed out; the session is ended on the server', outcome: 'success' });
      },
    },
    logger: {
      // next-auth's metadata can hold IdP tokens or request bodies: log the code and message only.
      error(code, metadata) {
        const error = metadata instanceof Error ? metadata : (metadata as { error?: unknown })?.error;
        if (error instanceof SessionEndedError) return;
        // The message can quote the IdP's error parameter, which anyone can write: one line, bounded.
        const message = error instanceof Error ? error.message.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 300) : '';
        console.error(`[auth] ${code}${message ? `: ${message}` : ''}`);
      },
      warn(code) {
        console.warn(`[auth] ${code}`);
      },
      debug() {},
    },
  };
}
