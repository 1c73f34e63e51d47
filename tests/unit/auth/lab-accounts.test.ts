import { describe, expect, it } from 'vitest';
import { enabledLabAccounts, verifyLabCredentials } from '@/lib/auth/lab-accounts';

const env = { LAB_VIEWER_PASSWORD: 'viewer-pw', LAB_OPERATOR_PASSWORD: 'operator-pw' };

describe('lab accounts', () => {
  it('signs in an account with its own password, ignoring email case', () => {
    expect(verifyLabCredentials('Viewer@LinkBox.lab', 'viewer-pw', env)?.role).toBe('viewer');
    expect(verifyLabCredentials('operator@linkbox.lab', 'operator-pw', env)?.role).toBe('operator');
  });

  it("refuses another account's password", () => {
    expect(verifyLabCredentials('viewer@linkbox.lab', 'operator-pw', env)).toBeNull();
  });

  it('disables an account whose password variable is unset, even for an empty password', () => {
    expect(verifyLabCredentials('admin@linkbox.lab', '', env)).toBeNull();
    expect(verifyLabCredentials('admin@linkbox.lab', 'undefined', env)).toBeNull();
    expect(enabledLabAccounts(env).map((a) => a.email)).toEqual(['viewer@linkbox.lab', 'operator@linkbox.lab']);
  });

  it('refuses unknown emails and non-string input', () => {
    expect(verifyLabCredentials('root@linkbox.lab', 'viewer-pw', env)).toBeNull();
    expect(verifyLabCredentials(undefined, 'viewer-pw', env)).toBeNull();
    expect(verifyLabCredentials('viewer@linkbox.lab', ['viewer-pw'], env)).toBeNull();
  });
});
