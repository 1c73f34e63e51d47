import 'server-only';
import { callerFromRequest } from '@/lib/auth/api-token';
import { AuthorizationError, type Caller } from '@/lib/roles';
import type { EnvironmentStatus } from '@/lib/checks/types';
import { ConfigError, UnknownEnvironmentError } from '@/lib/config/load';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';
import type { EnvironmentHistory } from '@/lib/watcher';

// The JSON API's shapes and failures, shared by its route handlers. Every answer is a DTO built
// field by field here, so nothing the status engine adds later leaks out unreviewed.

const NO_STORE = { 'Cache-Control': 'no-store' };

export function statusDto(status: EnvironmentStatus) {
  return {
    environment: status.environment,
    kind: status.kind,
    overall: status.overall,
    rootCause: status.rootCause,
    checkedAt: status.checkedAt,
    stale: status.stale,
    ...(status.staleReason ? { staleReason: status.staleReason } : {}),
    checks: status.checks.map((c) => ({
      id: c.id,
      status: c.status,
      summary: c.summary,
      evidence: c.evidence,
      ...(c.fix ? { fix: c.fix } : {}),
    })),
  };
}

export function historyDto(history: EnvironmentHistory) {
  return {
    environment: history.environment,
    generatedAt: history.generatedAt,
    lastLookAt: history.lastLookAt,
    intervalSeconds: history.intervalSeconds,
    retentionDays: history.retentionDays,
    windows: history.windows.map((w) => ({
      label: w.label,
      from: w.from,
      to: w.to,
      availability: { healthyShare: w.availability.healthyShare, byStateMs: { ...w.availability.byState } },
      segments: w.segments.map((s) => ({ state: s.state, from: s.from, to: s.to })),
    })),
    incidents: history.incidents.map((i) => ({
      start: i.start,
      end: i.end,
      durationMs: i.durationMs,
      rootCauses: i.rootCauses.map((c) => ({ check: c.check, summary: c.summary })),
    })),
    changes: history.changes.map((c) => ({ at: c.at, subject: c.subject, state: c.state, rootCause: c.rootCause, summary: c.summary })),
  };
}

export function json(body: unknown, status = 200): Response {
  return Response.json(body, { status, headers: NO_STORE });
}

export function unauthorized(): Response {
  return Response.json(
    { error: 'sign in, or send "Authorization: Bearer <token>" with a token from OPS_API_TOKENS' },
    { status: 401, headers: { ...NO_STORE, 'WWW-Authenticate': 'Bearer realm="linkbox-ops-console"' } },
  );
}

export function notFound(environment: string): Response {
  return json({ error: `no environment named "${environment}"` }, 404);
}

export function wantsFresh(req: Request): boolean {
  const fresh = new URL(req.url).searchParams.get('fresh');
  return fresh === '1' || fresh === 'true';
}

/** Known failures become their status code; anything else a 500 whose message names what failed, not its internals. */
export function failure(err: unknown, what: string): Response {
  if (err instanceof UnknownEnvironmentError) return notFound(err.environment);
  if (err instanceof AuthorizationError) return err.caller ? json({ error: err.message }, 403) : unauthorized();
  if (err instanceof ConfigError) return json({ error: `the console config is invalid: ${err.message}` }, 500);
  const name = err instanceof Error ? err.name : 'Error';
  console.error(`[api] ${what} failed: ${name}`);
  return json({ error: `${what} failed (${name}); the console log has the details` }, 500);
}

/**
 * The opening every `/environments/{name}/...` handler shares: a caller (401 without), a name that
 * can be an environment's (404 otherwise), then `answer`; whatever it throws becomes its status code.
 */
export async function environmentRoute(
  req: Request,
  params: Promise<{ name: string }>,
  what: (name: string) => string,
  answer: (caller: Caller, name: string) => Promise<Response>,
): Promise<Response> {
  const caller = await callerFromRequest(req);
  if (!caller) return unauthorized();
  const { name } = await params;
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) return notFound(name);
  try {
    return await answer(caller, name);
  } catch (err) {
    return failure(err, what(name));
  }
}
