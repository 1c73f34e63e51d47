import 'server-only';
import type { ConsoleConfig } from '@/lib/config/schema';
import type { Caller } from '@/lib/roles';

// Re-authentication before a dangerous action (rotate, restart, roll back): a stolen or forgotten-open
// session alone must not be enough to change production. What counts is when the person last typed
// their password at the IdP — the ID token's auth_time — not when the console session began: an IdP
// session can sign someone in silently hours after they last proved who they are. "Sign in again"
// asks the IdP for exactly that proof (prompt=login, max_age), and the answer is judged here.

export const REAUTH_MAX_AGE_SECONDS = 15 * 60;

/**
 * The authorization request of "Sign in again": the IdP must ask for the password, whatever its
 * session. Google refuses prompt=login; with `signIn.promptLogin: false` max_age asks alone.
 */
export function reauthAuthorizationParams(signIn: Pick<ConsoleConfig['signIn'], 'promptLogin'>): Record<string, string> {
  return { ...(signIn.promptLogin ? { prompt: 'login' } : {}), max_age: String(REAUTH_MAX_AGE_SECONDS) };
}

export type ReauthRefusal = 'stale-sign-in' | 'unavailable';

export type ReauthOutcome =
  | { ok: true }
  | {
      ok: false;
      reason: ReauthRefusal;
      /** Shown to the user as is. */
      message: string;
    };

/** The IdP sign-in (auth_time, epoch seconds) is no older than 15 minutes. */
export function checkSignInFreshness(authTime: number | null | undefined, nowSeconds = Math.floor(Date.now() / 1000)): ReauthOutcome {
  // A sign-in time in the future is a clock or forgery problem, not a fresh sign-in.
  if (
    typeof authTime === 'number' &&
    Number.isFinite(authTime) &&
    authTime <= nowSeconds + 60 &&
    nowSeconds - authTime <= REAUTH_MAX_AGE_SECONDS
  ) {
    return { ok: true };
  }
  return {
    ok: false,
    reason: 'stale-sign-in',
    message: 'This action needs a sign-in from the last 15 minutes. Sign in again, then repeat it.',
  };
}

export function checkReauthentication(input: { caller: Caller; authTime: number | null | undefined; nowSeconds?: number }): ReauthOutcome {
  if (input.caller.via !== 'session') {
    // API tokens cannot re-authenticate; dangerous actions are for people at the console.
    return { ok: false, reason: 'unavailable', message: 'This action needs a signed-in user, not an API token.' };
  }
  return checkSignInFreshness(input.authTime, input.nowSeconds);
}
