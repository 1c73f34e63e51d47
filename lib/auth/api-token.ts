import 'server-only';
import type { Caller } from '@/lib/roles';
import { secretsEqual } from './constant-time';
import { getCaller } from './session';

// Automation reads status with a bearer token from OPS_API_TOKENS: "ci:s3cr3t,nightly:0th3r" or bare
// tokens. A token grants viewer only: automation reads, it never rotates or restarts.

export interface ApiToken {
  /** Shown in the caller id (`token:<name>`) and audit entries; never the token itself. */
  name: string;
  token: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export function parseApiTokens(value: string | undefined): ApiToken[] {
  if (!value) return [];
  const tokens: ApiToken[] = [];
  value.split(',').forEach((raw, index) => {
    const entry = raw.trim();
    if (!entry) return;
    const colon = entry.indexOf(':');
    const candidateName = colon > 0 ? entry.slice(0, colon) : '';
    if (candidateName && NAME.test(candidateName) && colon < entry.length - 1) {
      tokens.push({ name: candidateName, token: entry.slice(colon + 1) });
    } else {
      tokens.push({ name: `token-${index + 1}`, token: entry });
    }
  });
  return tokens;
}

/** The bearer token in an Authorization header; undefined when there is no such header, null when it is malformed. */
export function bearerToken(header: string | null | undefined): string | null | undefined {
  if (header == null) return undefined;
  const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
  return match ? match[1]! : null;
}

/** Every configured token is compared, so which one matched (or that none did) does not show in the timing. */
export function matchApiToken(given: string, tokens: readonly ApiToken[]): ApiToken | null {
  let found: ApiToken | null = null;
  for (const candidate of tokens) {
    if (secretsEqual(given, candidate.token) && !found) found = candidate;
  }
  return found;
}

export function callerFromAuthorization(header: string | null | undefined, tokens = parseApiTokens(process.env.OPS_API_TOKENS)): Caller | null {
  const given = bearerToken(header);
  if (!given) return null;
  const match = matchApiToken(given, tokens);
  return match ? { id: `token:${match.name}`, role: 'viewer', via: 'token' } : null;
}

/**
 * Who is calling a route handler: a bearer token when the request carries an Authorization header
 * (a wrong token is refused, not retried as a session), otherwise the signed-in session.
 */
export async function callerFromRequest(req: Request): Promise<Caller | null> {
  const header = req.headers.get('authorization');
  if (header !== null) return callerFromAuthorization(header);
  return getCaller();
}
