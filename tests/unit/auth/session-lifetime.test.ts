import { describe, expect, it } from 'vitest';
import { SESSION_IDLE_SECONDS, SESSION_MAX_AGE_SECONDS, sessionVerdict } from '@/lib/auth/session-lifetime';

const signIn = 1_800_000_000;

describe('session lifetime', () => {
  it('is active right after sign-in', () => {
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt: signIn }, signIn)).toBe('active');
  });

  it('is active just under 30 minutes without activity and idle at 30 minutes', () => {
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt: signIn }, signIn + SESSION_IDLE_SECONDS - 1)).toBe('active');
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt: signIn }, signIn + 30 * 60)).toBe('idle');
  });

  it('counts idle time from the last activity, not from sign-in', () => {
    const lastSeenAt = signIn + 2 * 60 * 60;
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt }, lastSeenAt + 29 * 60)).toBe('active');
  });

  it('ends 8 hours after sign-in even with constant activity', () => {
    const now = signIn + 8 * 60 * 60;
    expect(SESSION_MAX_AGE_SECONDS).toBe(8 * 60 * 60);
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt: now - 5 }, now)).toBe('expired');
    expect(sessionVerdict({ startedAt: signIn, lastSeenAt: now - 5 }, now - 1)).toBe('active');
  });
});
