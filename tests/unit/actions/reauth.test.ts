import { describe, expect, it } from 'vitest';
import type { Caller } from '@/lib/roles';
import { checkReauthentication, checkSignInFreshness, reauthAuthorizationParams, REAUTH_MAX_AGE_SECONDS } from '@/lib/auth/reauth';

const NOW = 1_800_000_000;

describe("sign-in freshness (the ID token's auth_time)", () => {
  it('accepts a sign-in up to 15 minutes old', () => {
    expect(checkSignInFreshness(NOW, NOW).ok).toBe(true);
    expect(checkSignInFreshness(NOW - REAUTH_MAX_AGE_SECONDS, NOW).ok).toBe(true);
  });

  it('refuses one a second older, and one whose time the IdP did not give', () => {
    expect(checkSignInFreshness(NOW - REAUTH_MAX_AGE_SECONDS - 1, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
    expect(checkSignInFreshness(null, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
    expect(checkSignInFreshness(undefined, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
    expect(checkSignInFreshness(Number.NaN, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });

  it('refuses a sign-in time in the future, which only a clock fault or a forged token gives', () => {
    expect(checkSignInFreshness(NOW + 3600, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });

  it('asks the IdP for the password again, within the same window, without prompt=login for an IdP that refuses it', () => {
    expect(reauthAuthorizationParams({ promptLogin: true })).toEqual({ prompt: 'login', max_age: String(REAUTH_MAX_AGE_SECONDS) });
    expect(reauthAuthorizationParams({ promptLogin: false })).toEqual({ max_age: String(REAUTH_MAX_AGE_SECONDS) });
  });
});

describe('checkReauthentication', () => {
  it('asks a signed-in person for a recent IdP sign-in', () => {
    const person: Caller = { id: 'ops@example.com', role: 'operator', via: 'session' };
    expect(checkReauthentication({ caller: person, authTime: NOW - 60, nowSeconds: NOW }).ok).toBe(true);
    expect(checkReauthentication({ caller: person, authTime: NOW - 3600, nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });

  it('refuses an API token outright: it cannot re-authenticate', () => {
    const token: Caller = { id: 'token:ci', role: 'operator', via: 'token' };
    expect(checkReauthentication({ caller: token, authTime: NOW, nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'unavailable' });
  });
});
