import 'server-only';
import { hasRole } from '@/lib/roles';
import { checkSignInFreshness } from '@/lib/auth/reauth';
import type { SessionInfo } from '@/lib/auth/session';

// What a page with a confirmation form needs to know about the signed-in user, decided the same way
// the action builder decides it, so the form says what the action will check.

export interface ConfirmFormContext {
  /** Operator or admin: may see and submit the form. */
  canOperate: boolean;
  /** The IdP sign-in is older than 15 minutes, so the action will refuse until the user signs in again. */
  signInTooOld: boolean;
  /**
   * They did sign in again, but the IdP let them through without asking for the password (it ignored
   * prompt=login and max_age): sending them round again would only loop, so the page says why.
   */
  reauthIgnored: boolean;
}

export function confirmFormContext(session: SessionInfo): ConfirmFormContext {
  const signInTooOld = !checkSignInFreshness(session.authTime).ok;
  return {
    canOperate: hasRole(session.caller, 'operator'),
    signInTooOld,
    reauthIgnored: signInTooOld && session.kind === 're-authentication',
  };
}

export { signInAgainPath } from '@/lib/auth/session';
