import { beforeEach, describe, expect, it } from 'vitest';
import type { Caller } from '@/lib/roles';
import { checkLabPassword, checkReauthentication, checkSignInFreshness, MAX_WRONG_PASSWORDS, REAUTH_MAX_AGE_SECONDS, resetWrongPasswordsForTests } from '@/lib/auth/reauth';

const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };
const env = { LAB_OPERATOR_PASSWORD: 'op-secret-1', LAB_ADMIN_PASSWORD: 'admin-secret-1' };
const NOW = 1_800_000_000;

beforeEach(() => resetWrongPasswordsForTests());

describe('sign-in freshness (OIDC)', () => {
  it('accepts a sign-in up to 15 minutes old', () => {
    expect(checkSignInFreshness(NOW, NOW).ok).toBe(true);
    expect(checkSignInFreshness(NOW - REAUTH_MAX_AGE_SECONDS, NOW).ok).toBe(true);
  });

  it('refuses one a second older, and a missing sign-in time', () => {
    expect(checkSignInFreshness(NOW - REAUTH_MAX_AGE_SECONDS - 1, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
    expect(checkSignInFreshness(undefined, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
    expect(checkSignInFreshness(Number.NaN, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });

  it('refuses a sign-in time in the future, which only a clock fault or a forged token gives', () => {
    expect(checkSignInFreshness(NOW + 3600, NOW)).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });
});

describe('lab password', () => {
  it("accepts the caller's own password only", () => {
    expect(checkLabPassword(operator, 'op-secret-1', env).ok).toBe(true);
    expect(checkLabPassword(operator, 'admin-secret-1', env)).toMatchObject({ ok: false, reason: 'wrong-password' });
    expect(checkLabPassword(operator, 'op-secret-1 ', env)).toMatchObject({ ok: false, reason: 'wrong-password' });
  });

  it('asks for the password when none was typed', () => {
    expect(checkLabPassword(operator, undefined, env)).toMatchObject({ ok: false, reason: 'password-required' });
    expect(checkLabPassword(operator, '', env)).toMatchObject({ ok: false, reason: 'password-required' });
  });

  it('is unavailable for an account without a lab password', () => {
    expect(checkLabPassword({ ...operator, id: 'someone@example.com' }, 'x', env)).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(checkLabPassword(operator, 'op-secret-1', {})).toMatchObject({ ok: false, reason: 'unavailable' });
  });

  it('never repeats what was typed', () => {
    const outcome = checkLabPassword(operator, 'typed-guess-77', env);
    expect(JSON.stringify(outcome)).not.toContain('typed-guess-77');
  });

  it('refuses even the right password after too many wrong ones, until the window passes', () => {
    const t = Date.now();
    for (let i = 0; i < MAX_WRONG_PASSWORDS; i++) expect(checkLabPassword(operator, `guess-${i}`, env, t).ok).toBe(false);
    expect(checkLabPassword(operator, 'op-secret-1', env, t + 1000)).toMatchObject({ ok: false, reason: 'too-many-attempts' });
    expect(checkLabPassword(operator, 'op-secret-1', env, t + 16 * 60 * 1000).ok).toBe(true);
  });
});

describe('checkReauthentication', () => {
  it('asks a lab account in lab mode for the password, whatever its sign-in time', () => {
    process.env.LAB_OPERATOR_PASSWORD = 'op-secret-1';
    expect(checkReauthentication({ mode: 'lab', caller: operator, authTime: NOW, nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'password-required' });
    expect(checkReauthentication({ mode: 'lab', caller: operator, password: 'op-secret-1' }).ok).toBe(true);
  });

  it('asks an OIDC user for a recent sign-in, also in a lab', () => {
    const oidc: Caller = { id: 'ops@example.com', role: 'operator', via: 'session' };
    expect(checkReauthentication({ mode: 'aws', caller: oidc, authTime: NOW - 60, nowSeconds: NOW }).ok).toBe(true);
    expect(checkReauthentication({ mode: 'lab', caller: oidc, authTime: NOW - 3600, nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'stale-sign-in' });
  });

  it('refuses an API token outright: it cannot re-authenticate', () => {
    const token: Caller = { id: 'token:ci', role: 'operator', via: 'token' };
    expect(checkReauthentication({ mode: 'aws', caller: token, authTime: NOW, nowSeconds: NOW })).toMatchObject({ ok: false, reason: 'unavailable' });
  });
});
