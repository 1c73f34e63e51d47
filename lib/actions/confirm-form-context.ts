import 'server-only';
import { hasRole } from '@/lib/roles';
import { labAccountFor } from '@/lib/auth/lab-accounts';
import { checkSignInFreshness } from '@/lib/auth/reauth';
import { signInPath, type SessionInfo } from '@/lib/auth/session';
import { getConfig } from '@/lib/config/load';

// What a page with a confirmation form needs to know about the signed-in user, decided the same way
// the action builder decides it, so the form asks for what the action will check.

export interface ConfirmFormContext {
  /** Operator or admin: may see and submit the form. */
  canOperate: boolean;
  /** Lab mode with a lab account: the form asks for the password again. */
  askPassword: boolean;
  /** OIDC: the sign-in is older than 15 minutes, so the action will refuse until the user signs in again. */
  signInTooOld: boolean;
}

export function confirmFormContext(session: SessionInfo): ConfirmFormContext {
  const labPassword = getConfig().mode === 'lab' && !!labAccountFor(session.caller.id);
  return {
    canOperate: hasRole(session.caller, 'operator'),
    askPassword: labPassword,
    signInTooOld: !labPassword && !checkSignInFreshness(session.authTime).ok,
  };
}

/** Sign-in again, even while signed in (the sign-in page otherwise sends a signed-in user straight back). */
export function signInAgainPath(page: string): string {
  const path = signInPath(page);
  return `${path}${path.includes('?') ? '&' : '?'}reauth=1`;
}
