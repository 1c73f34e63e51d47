// How long a console session lives. Pure so the proxy (redirects only) and the server-side session
// check agree on one rule without the proxy loading the config or credentials.

/** A session ends this long after sign-in, whatever the activity. */
export const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;
/** ...or after this long without operator activity (background polling does not count). */
export const SESSION_IDLE_SECONDS = 30 * 60;

export interface SessionTimes {
  /** Sign-in time, epoch seconds. */
  authTime?: unknown;
  /** Last operator activity, epoch seconds. */
  lastSeen?: unknown;
}

export type SessionVerdict = 'active' | 'expired' | 'idle' | 'malformed';

export function sessionVerdict(token: SessionTimes, nowSeconds: number): SessionVerdict {
  const { authTime, lastSeen } = token;
  if (typeof authTime !== 'number' || typeof lastSeen !== 'number') return 'malformed';
  if (authTime > nowSeconds + 60 || lastSeen > nowSeconds + 60) return 'malformed';
  if (nowSeconds - authTime >= SESSION_MAX_AGE_SECONDS) return 'expired';
  if (nowSeconds - lastSeen >= SESSION_IDLE_SECONDS) return 'idle';
  return 'active';
}

export function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
