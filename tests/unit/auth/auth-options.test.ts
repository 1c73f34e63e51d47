import type { JWT } from 'next-auth/jwt';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setConfigForTests } from '@/lib/config/load';
import { LabSignInRefusedError, authOptions, signInMethods } from '@/lib/auth/options';

function config(mode: 'lab' | 'aws', roles = { viewer: ['viewer@linkbox.lab'] as string[], operator: [] as string[], admin: [] as string[] }) {
  return setConfigForTests({
    mode,
    roles,
    environments: [{ name: 'local', kind: 'local' }],
  });
}

type JwtCallback = (params: { token: JWT; trigger?: 'update' | 'signIn'; user?: unknown; account?: unknown }) => Promise<JWT>;
const jwt = () => authOptions().callbacks!.jwt as unknown as JwtCallback;

const NOW = 1_800_000_000;

describe('the session token', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW * 1000);
    vi.stubEnv('LAB_VIEWER_PASSWORD', 'viewer-pw');
    vi.stubEnv('LAB_OPERATOR_PASSWORD', '');
    vi.stubEnv('LAB_ADMIN_PASSWORD', '');
    vi.stubEnv('OIDC_ISSUER', '');
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllEnvs();
  });

  it('records sign-in time and activity at sign-in and takes the role from the config', async () => {
    config('lab', { viewer: [], operator: ['viewer@linkbox.lab'], admin: [] });
    const token = await jwt()({
      token: { email: 'viewer@linkbox.lab' },
      user: { id: 'viewer@linkbox.lab', email: 'viewer@linkbox.lab' },
      account: { provider: 'lab', type: 'credentials', providerAccountId: 'viewer@linkbox.lab' },
      trigger: 'signIn',
    });
    expect(token).toMatchObject({ authTime: NOW, lastSeen: NOW, role: 'operator', provider: 'lab' });
  });

  it('follows a role change in the config on the next read', async () => {
    config('lab', { viewer: [], operator: [], admin: ['viewer@linkbox.lab'] });
    const token = await jwt()({ token: { email: 'viewer@linkbox.lab', provider: 'lab', role: 'viewer', authTime: NOW - 60, lastSeen: NOW - 60 } });
    expect(token.role).toBe('admin');
  });

  it('ends an IdP session once the config no longer grants a role', async () => {
    config('lab', { viewer: [], operator: [], admin: [] });
    await expect(
      jwt()({ token: { email: 'gone@example.com', provider: 'oidc', groups: ['old-team'], role: 'operator', authTime: NOW - 60, lastSeen: NOW - 60 } }),
    ).rejects.toThrow(/no role/);
  });

  it('ends a session idle for 30 minutes and one signed in 8 hours ago', async () => {
    config('lab');
    await expect(jwt()({ token: { email: 'viewer@linkbox.lab', provider: 'lab', authTime: NOW - 3600, lastSeen: NOW - 1800 } })).rejects.toThrow(/idle/);
    await expect(jwt()({ token: { email: 'viewer@linkbox.lab', provider: 'lab', authTime: NOW - 8 * 3600, lastSeen: NOW } })).rejects.toThrow(/expired/);
  });

  it('moves the idle clock on an activity update but not on a plain read', async () => {
    config('lab');
    const base = { email: 'viewer@linkbox.lab', provider: 'lab' as const, authTime: NOW - 600, lastSeen: NOW - 600 };
    expect((await jwt()({ token: { ...base } })).lastSeen).toBe(NOW - 600);
    expect((await jwt()({ token: { ...base }, trigger: 'update' })).lastSeen).toBe(NOW);
  });
});

describe('lab sign-in and mode', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('refuses to build sign-in at all when mode is aws and a lab password is set', () => {
    vi.stubEnv('LAB_ADMIN_PASSWORD', 'admin-pw');
    config('aws');
    expect(() => authOptions()).toThrow(LabSignInRefusedError);
    expect(() => authOptions()).toThrow(/LAB_ADMIN_PASSWORD/);
  });

  it('offers no lab accounts in mode aws, and OIDC only when issuer, client id and secret are all set', () => {
    vi.stubEnv('LAB_VIEWER_PASSWORD', '');
    vi.stubEnv('LAB_OPERATOR_PASSWORD', '');
    vi.stubEnv('LAB_ADMIN_PASSWORD', '');
    vi.stubEnv('OIDC_ISSUER', 'https://idp.example.com/');
    vi.stubEnv('OIDC_CLIENT_ID', 'console');
    vi.stubEnv('OIDC_CLIENT_SECRET', '');
    const aws = config('aws');
    expect(signInMethods(aws)).toEqual({ lab: false, oidc: false });
    expect(authOptions().providers).toHaveLength(0);
    vi.stubEnv('OIDC_CLIENT_SECRET', 'secret');
    expect(signInMethods(aws)).toEqual({ lab: false, oidc: true });
  });

  it('offers lab accounts in mode lab only while one of their passwords is set', () => {
    vi.stubEnv('LAB_VIEWER_PASSWORD', '');
    vi.stubEnv('LAB_OPERATOR_PASSWORD', '');
    vi.stubEnv('LAB_ADMIN_PASSWORD', '');
    vi.stubEnv('OIDC_ISSUER', '');
    const lab = config('lab');
    expect(signInMethods(lab).lab).toBe(false);
    vi.stubEnv('LAB_OPERATOR_PASSWORD', 'op');
    expect(signInMethods(lab).lab).toBe(true);
  });
});
