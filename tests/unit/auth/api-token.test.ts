import { describe, expect, it } from 'vitest';
import { bearerToken, callerFromAuthorization, matchApiToken, parseApiTokens } from '@/lib/auth/api-token';
import { secretsEqual } from '@/lib/auth/constant-time';

describe('OPS_API_TOKENS parsing', () => {
  it('reads name:token pairs and bare tokens, skipping blanks', () => {
    expect(parseApiTokens('ci:abc123def456, ,bare-token-value,nightly:xyz')).toEqual([
      { name: 'ci', token: 'abc123def456' },
      { name: 'token-3', token: 'bare-token-value' },
      { name: 'nightly', token: 'xyz' },
    ]);
  });

  it('keeps a token whole when what precedes its first colon is not a name', () => {
    expect(parseApiTokens('a b:c')).toEqual([{ name: 'token-1', token: 'a b:c' }]);
    expect(parseApiTokens(':abc')).toEqual([{ name: 'token-1', token: ':abc' }]);
  });

  it('splits only at the first colon, so a token may contain colons', () => {
    expect(parseApiTokens('ci:abc:def')).toEqual([{ name: 'ci', token: 'abc:def' }]);
  });

  it('has no tokens when the variable is unset or empty', () => {
    expect(parseApiTokens(undefined)).toEqual([]);
    expect(parseApiTokens('')).toEqual([]);
  });
});

describe('the Authorization header', () => {
  it('yields the token of a Bearer header, whatever the scheme case', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer   abc')).toBe('abc');
  });

  it('is malformed for other schemes, a missing token or a token with spaces', () => {
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeNull();
    expect(bearerToken('Bearer')).toBeNull();
    expect(bearerToken('Bearer a b')).toBeNull();
  });

  it('is absent when there is no header', () => {
    expect(bearerToken(null)).toBeUndefined();
  });
});

describe('token matching', () => {
  const tokens = parseApiTokens('ci:first-token-0001,nightly:second-token-0002');

  it('makes a matching token a viewer named after its entry, never after the token', () => {
    expect(callerFromAuthorization('Bearer second-token-0002', tokens)).toEqual({ id: 'token:nightly', role: 'viewer', via: 'token' });
  });

  it('refuses a wrong token, a prefix of a right one and a right one with extra characters', () => {
    expect(callerFromAuthorization('Bearer wrong', tokens)).toBeNull();
    expect(callerFromAuthorization('Bearer first-token-000', tokens)).toBeNull();
    expect(callerFromAuthorization('Bearer first-token-00011', tokens)).toBeNull();
  });

  it('refuses everything when no tokens are configured', () => {
    expect(callerFromAuthorization('Bearer anything', [])).toBeNull();
  });

  it('returns the first entry when two entries share a token', () => {
    expect(matchApiToken('same', parseApiTokens('a:same,b:same'))?.name).toBe('a');
  });
});

describe('constant-time secret comparison', () => {
  it('is true only for identical strings, including different lengths and unicode', () => {
    expect(secretsEqual('pässwörd', 'pässwörd')).toBe(true);
    expect(secretsEqual('pässwörd', 'passwörd')).toBe(false);
    expect(secretsEqual('short', 'a much longer secret')).toBe(false);
    expect(secretsEqual('', '')).toBe(true);
  });
});
