import 'server-only';
import { cookies } from 'next/headers';
import { connection } from 'next/server';
import { cache } from 'react';
import type { Caller } from '@/lib/roles';
import { safeReturnPath } from './return-path';
import { sessionIdFromCookies } from './session-cookie';
import { resolveSession, type SessionInfo } from './sessions';

// The signed-in user as pages, server actions and route handlers see it: the cookie's session id,
// looked up in the store on every request. Each of them asks here itself; the proxy's redirect is a
// convenience, not a check.

export type { SessionInfo } from './sessions';
export { safeReturnPath } from './return-path';

/** The current session, or null when signed out, ended, idle, expired, or no longer granted a role by the config. */
export const getSessionInfo = cache(async (): Promise<SessionInfo | null> => {
  // A per-request answer: never let `next build` prerender it (there is no config at build time).
  await connection();
  const sessionId = await sessionIdFromCookies(await cookies());
  return sessionId ? resolveSession(sessionId) : null;
});

export async function getCaller(): Promise<Caller | null> {
  return (await getSessionInfo())?.caller ?? null;
}

export function signInPath(returnTo: string): string {
  const back = safeReturnPath(returnTo);
  return back === '/' ? '/signin' : `/signin?callbackUrl=${encodeURIComponent(back)}`;
}

/** "Sign in again" to confirm it is you: the sign-in page then asks the IdP for the password even while signed in. */
export function signInAgainPath(returnTo: string): string {
  return `/signin?reauth=1&callbackUrl=${encodeURIComponent(safeReturnPath(returnTo))}`;
}
