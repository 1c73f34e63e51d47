import 'server-only';
import type { Caller } from '@/lib/roles';
import { secretsEqual } from './constant-time';
import { labAccountFor } from './lab-accounts';

// Re-authentication before a dangerous action (rotate, restart): a stolen or forgotten-open session
// alone must not be enough to change production. Under OIDC the sign-in itself must be recent; in
// lab mode (no IdP to send the user back to) the user types their password again.

export const REAUTH_MAX_AGE_SECONDS = 15 * 60;

export type ReauthRefusal = 'stale-sign-in' | 'password-required' | 'wrong-password' | 'too-many-attempts' | 'unavailable';

export type ReauthOutcome =
  | { ok: true }
  | {
      ok: false;
      reason: ReauthRefusal;
      /** Shown to the user as is; never contains what they typed. */
      message: string;
    };

/** OIDC: the sign-in (epoch seconds, as the session records it) is no older than 15 minutes. */
export function checkSignInFreshness(authTime: number | undefined, nowSeconds = Math.floor(Date.now() / 1000)): ReauthOutcome {
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

/** Wrong passwords allowed per account within the window before re-authentication is refused outright. */
export const MAX_WRONG_PASSWORDS = 5;
const WRONG_PASSWORD_WINDOW_MS = 15 * 60 * 1000;

/**
 * Recent wrong passwords per account. A stolen session must not become a password oracle; per
 * process is enough for the lab, the only place with lab passwords.
 */
const wrongPasswords = new Map<string, number[]>();

function recentWrongPasswords(account: string, now: number): number[] {
  const recent = (wrongPasswords.get(account) ?? []).filter((t) => now - t < WRONG_PASSWORD_WINDOW_MS);
  wrongPasswords.set(account, recent);
  return recent;
}

export function resetWrongPasswordsForTests(): void {
  wrongPasswords.clear();
}

/** Lab mode: the caller's own lab password again, compared in constant time. */
export function checkLabPassword(
  caller: Caller,
  password: string | undefined,
  env: Record<string, string | undefined> = process.env,
  now = Date.now(),
): ReauthOutcome {
  const variable = labAccountFor(caller.id)?.passwordVariable;
  const expected = variable ? env[variable] : undefined;
  if (!expected) {
    return {
      ok: false,
      reason: 'unavailable',
      message: `Re-authentication is not possible for ${caller.id}: only the lab accounts have a lab password.`,
    };
  }
  if (!password) {
    return { ok: false, reason: 'password-required', message: 'Type your password to confirm this action.' };
  }
  const recent = recentWrongPasswords(caller.id, now);
  if (recent.length >= MAX_WRONG_PASSWORDS) {
    return {
      ok: false,
      reason: 'too-many-attempts',
      message: `Too many wrong passwords for ${caller.id}; try again in 15 minutes.`,
    };
  }
  if (!secretsEqual(password, expected)) {
    recent.push(now);
    return { ok: false, reason: 'wrong-password', message: 'That password is not right. Type your own password again.' };
  }
  return { ok: true };
}

export interface ReauthInput {
  mode: 'lab' | 'aws';
  caller: Caller;
  /** The password typed in the confirmation form (lab mode). */
  password?: string;
  /** When this session signed in, epoch seconds (OIDC). */
  authTime?: number;
  nowSeconds?: number;
}

export function checkReauthentication(input: ReauthInput): ReauthOutcome {
  if (input.caller.via !== 'session') {
    // API tokens cannot re-authenticate; dangerous actions are for people at the console.
    return { ok: false, reason: 'unavailable', message: 'This action needs a signed-in user, not an API token.' };
  }
  // An OIDC user in a lab has no lab password; the recent sign-in is their proof there too.
  if (input.mode === 'lab' && labAccountFor(input.caller.id)) return checkLabPassword(input.caller, input.password);
  return checkSignInFreshness(input.authTime, input.nowSeconds);
}
