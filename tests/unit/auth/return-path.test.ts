import { describe, expect, it } from 'vitest';
import { safeReturnPath } from '@/lib/auth/return-path';

// The return path after sign-in comes from a URL anyone can craft. Each value below is parsed the way a
// browser would; whatever it is, the answer is a path on the console's own origin, and one that is a
// valid header value (the redirect that follows must not 500).

const ORIGIN = 'https://ops.example.com';

const KEPT: Array<[string, string]> = [
  ['/', '/'],
  ['/environments/production', '/environments/production'],
  ['/environments/production/rotate?x=1#step-db.login', '/environments/production/rotate?x=1#step-db.login'],
  ['/audit?environment=production&limit=200', '/audit?environment=production&limit=200'],
  [`${ORIGIN}/environments/production`, '/environments/production'],
  ['HTTPS://OPS.EXAMPLE.COM/audit', '/audit'],
  ['https://ops.example.com:443/audit', '/audit'],
  // Normalised, but still on the console.
  ['/environments/../audit', '/audit'],
  ['/a/./b', '/a/b'],
  ['/é?q=ü', '/%C3%A9?q=%C3%BC'],
  ['/a b', '/a%20b'],
  ['/%E2%80%A8', '/%E2%80%A8'],
];

const REFUSED: string[] = [
  '',
  '//evil.example',
  '//evil.example/environments',
  '///evil.example',
  '/\\evil.example',
  '\\\\evil.example',
  '/\\/evil.example',
  '/.//evil.example',
  '/..//evil.example',
  '/%2F%2Fevil.example',
  '/%2f/evil.example',
  '/%5Cevil.example',
  '/%5c%5cevil.example',
  '/\t/evil.example',
  '/\n/evil.example',
  '/\r\nLocation: https://evil.example',
  '/%0d%0aSet-Cookie:%20x=1',
  '/%00',
  '/\u0000',
  '/\u007f',
  'https://evil.example/',
  'http://ops.example.com/audit',
  'https://ops.example.com.evil.example/audit',
  'https://ops.example.com@evil.example/',
  'https://evil.example#https://ops.example.com/',
  'javascript:alert(1)',
  'JaVaScRiPt:alert(1)',
  'java\tscript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  'vbscript:msgbox(1)',
  'environments/production',
  '.',
  '..',
  '?callbackUrl=//evil.example',
  '#/evil',
  'evil.example',
  ` /audit`,
  `/${'a'.repeat(2100)}`,
];

describe('the return path after sign-in', () => {
  it.each(KEPT)('keeps %j on the console as %j', (value, expected) => {
    expect(safeReturnPath(value, ORIGIN)).toBe(expected);
  });

  it.each(REFUSED.map((v) => [v]))('sends %j to "/"', (value) => {
    expect(safeReturnPath(value, ORIGIN)).toBe('/');
  });

  it('answers a valid header value for every crafted value, kept or refused', () => {
    for (const value of [...KEPT.map(([v]) => v), ...REFUSED]) {
      const path = safeReturnPath(value, ORIGIN);
      expect(() => new Headers({ location: path })).not.toThrow();
      expect(new URL(path, ORIGIN).origin).toBe(ORIGIN);
      expect(path.startsWith('//')).toBe(false);
    }
  });

  it('refuses what is not a string at all', () => {
    for (const value of [undefined, null, 42, ['/audit'], { toString: () => '/audit' }]) expect(safeReturnPath(value, ORIGIN)).toBe('/');
  });

  it('takes NEXTAUTH_URL as the origin by default, and without one still keeps paths and refuses other hosts', () => {
    const previous = process.env.NEXTAUTH_URL;
    try {
      process.env.NEXTAUTH_URL = `${ORIGIN}/`;
      expect(safeReturnPath(`${ORIGIN}/audit`)).toBe('/audit');
      delete process.env.NEXTAUTH_URL;
      expect(safeReturnPath('/audit')).toBe('/audit');
      expect(safeReturnPath(`${ORIGIN}/audit`)).toBe('/');
      expect(safeReturnPath('//evil.example')).toBe('/');
    } finally {
      if (previous === undefined) delete process.env.NEXTAUTH_URL;
      else process.env.NEXTAUTH_URL = previous;
    }
  });
});
