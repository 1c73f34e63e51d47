import 'server-only';
import { notFound, redirect } from 'next/navigation';
import { getSessionInfo, signInPath, type SessionInfo } from '@/lib/auth/session';
import { getEnvironment, UnknownEnvironmentError } from '@/lib/config/load';
import { ENVIRONMENT_NAME_PATTERN, type EnvironmentConfig, type Role } from '@/lib/config/schema';
import { assertRole } from '@/lib/roles';
import { runbookDefinition, UnknownRunbookError, type RunbookDefinition } from '@/lib/runbooks';

// The opening every page shares: who is asking (a signed-out visitor is sent to sign in and comes
// back here), and what the URL names (an unknown environment or runbook is a 404, never an error
// page that echoes the path). Pages check here themselves; the proxy's redirect is a convenience.

/**
 * The signed-in session with at least `role`, or a redirect to /signin. A signed-in caller without
 * the role gets an AuthorizationError (the error page), not a sign-in loop.
 */
export async function pageSession(returnTo: string, role: Role = 'viewer'): Promise<SessionInfo> {
  const session = await getSessionInfo();
  if (!session) redirect(signInPath(returnTo));
  assertRole(session.caller, role);
  return session;
}

export function environmentOrNotFound(name: string): EnvironmentConfig {
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) notFound();
  try {
    return getEnvironment(name);
  } catch (err) {
    if (err instanceof UnknownEnvironmentError) notFound();
    throw err;
  }
}

export function runbookOrNotFound(env: EnvironmentConfig, id: string): RunbookDefinition {
  try {
    return runbookDefinition(env, id);
  } catch (err) {
    if (err instanceof UnknownRunbookError) notFound();
    throw err;
  }
}

/** A page title that repeats a path segment only when it is a valid environment name. */
export function environmentTitle(name: string, title: (name: string) => string, fallback: string): string {
  return ENVIRONMENT_NAME_PATTERN.test(name) ? title(name) : fallback;
}
