import 'server-only';
import { getServerSession } from 'next-auth';
import { connection } from 'next/server';
import { cache } from 'react';
import type { Caller } from '@/lib/roles';
import { authOptions } from './options';

// The signed-in user as pages, server actions and route handlers see it. Each of them asks here
// itself; the proxy's redirect is a convenience, not a check.

export interface SessionInfo {
  caller: Caller;
  /** When this session signed in, epoch seconds: a dangerous action can demand a recent sign-in. */
  authTime: number;
}

/** The current session, or null when signed out, expired, idle, or no longer granted a role by the config. */
export const getSessionInfo = cache(async (): Promise<SessionInfo | null> => {
  // A per-request answer: never let `next build` prerender it (there is no config at build time).
  await connection();
  const session = await getServerSession(authOptions());
  const email = session?.user?.email;
  if (!session || !email || !session.role || typeof session.authTime !== 'number') return null;
  return { caller: { id: email, role: session.role, via: 'session' }, authTime: session.authTime };
});

export async function getCaller(): Promise<Caller | null> {
  return (await getSessionInfo())?.caller ?? null;
}

/** Only same-origin paths, so a crafted link cannot send someone elsewhere after sign-in. */
export function safeReturnPath(path: string | null | undefined): string {
  if (!path || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) return '/';
  return path;
}

export function signInPath(returnTo: string): string {
  const back = safeReturnPath(returnTo);
  return back === '/' ? '/signin' : `/signin?callbackUrl=${encodeURIComponent(back)}`;
}
