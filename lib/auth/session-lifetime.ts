// How long a console session lives, judged on the server from its record (lib/auth/sessions.ts).

/** A session ends this long after sign-in, whatever the activity. */
export const SESSION_MAX_AGE_SECONDS = 8 * 60 * 60;
/** ...or after this long without operator activity (background polling does not count). */
export const SESSION_IDLE_SECONDS = 30 * 60;

export interface SessionTimes {
  /** When the console session began, epoch seconds. */
  startedAt: number;
  /** Last operator activity, epoch seconds. */
  lastSeenAt: number;
}

export type SessionVerdict = 'active' | 'expired' | 'idle';

export function sessionVerdict({ startedAt, lastSeenAt }: SessionTimes, nowSeconds: number): SessionVerdict {
  if (nowSeconds - startedAt >= SESSION_MAX_AGE_SECONDS) return 'expired';
  if (nowSeconds - lastSeenAt >= SESSION_IDLE_SECONDS) return 'idle';
  return 'active';
}

export function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
