import { describe, expect, it } from 'vitest';
import { backendLoginFromDatabaseUrl, backendLoginFromSsm, parseLibpqUri, pythonUnquote } from '@/infra/lab/hosts/database-url';
import { parseRustUrl } from '@/infra/lab/hosts/rust-url';
import { DATABASE_URL_CASES, ENDPOINT, ssmValues } from '../../support/database-url-cases';

// The lab's model of the backend's DATABASE_URL chain, over the shared table of cases (checked
// against the real pydantic, SQLAlchemy, psycopg2 and bash by tests/support/database-url-oracle.ts).

describe('what the backend sends for the SSM values', () => {
  it.each(DATABASE_URL_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const outcome = backendLoginFromSsm(ssmValues(c));
    if ('fails' in c.backend) {
      expect(outcome).toMatchObject({ ok: false, ...c.backend.fails });
    } else {
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) return;
      const { options, ...login } = outcome.login;
      expect(login).toEqual(c.backend.sends);
      expect(options).toEqual({});
    }
  });
});

describe('the url crate model', () => {
  // Node's URL implements the WHATWG URL Standard, which the url crate follows: for these inputs
  // the two must serialize alike (a cross-check of the port, not a source of its rules).
  it.each([
    `postgresql://linkbox:pa@ss@${ENDPOINT}:5432/linkbox`,
    `postgresql://link:box:se:cret@${ENDPOINT}:5432/linkbox`,
    `postgresql://linkbox:12/a/./b/../c@${ENDPOINT}:5432/linkbox`,
    `postgresql://linkbox:12#frag ment@${ENDPOINT}:5432/linkbox`,
    `postgresql://linkbox:12?q="x"@${ENDPOINT}:5432/linkbox`,
    `postgresql://us er:pä ss{}@${ENDPOINT}:05432/db%20name`,
    'postgresql://linkbox@[::FFFF:10.0.0.1]:5432/x',
    '  postgresql://lin\tkbox:pw@h:5432/d\n',
    'postgresql:/just/a/path',
    'postgresql:opaque path',
    'linkbox:pw@h:5432/x?',
  ])('%s', (input) => {
    expect(parseRustUrl(input)).toEqual({ ok: true, serialization: new URL(input).href });
  });

  it.each([
    [`postgresql://linkbox:ab/cd@${ENDPOINT}:5432/linkbox`, 'invalid port number'],
    ['postgresql://linkbox:pw@:5432/linkbox', 'empty host'],
    ['postgresql://linkbox:pw@/linkbox', 'empty host'],
    ['postgresql://linkbox:pw@ho st:5432/linkbox', 'invalid domain character'],
    ['postgresql://linkbox:pw@h:65536/linkbox', 'invalid port number'],
    ['postgresql://linkbox:pw@[1::2::3]:5432/x', 'invalid IPv6 address'],
    ['//linkbox:pw@h/x', 'relative URL without a base'],
  ])('%s fails: %s', (input, error) => {
    expect(parseRustUrl(input)).toEqual({ ok: false, error });
  });
});

describe('the rest of the chain', () => {
  it('unquotes as Python does: only %XX with two hex digits, invalid UTF-8 replaced', () => {
    expect(pythonUnquote('a%41%4')).toBe('aA%4');
    expect(pythonUnquote('%C3%A4%C3')).toBe('ä\uFFFD');
    expect(pythonUnquote('ü%20')).toBe('ü ');
  });

  it('passes libpq options from the URL\'s query and stops at an unknown one when connecting', () => {
    const base = `postgresql://linkbox:pw@${ENDPOINT}:5432/linkbox`;
    expect(backendLoginFromDatabaseUrl(`${base}?sslmode=require&application_name=a+b`)).toMatchObject({ ok: true, login: { options: { sslmode: 'require', application_name: 'a b' } } });
    expect(backendLoginFromDatabaseUrl(`${base}?bogus=1`)).toMatchObject({ ok: false, stage: 'connect', error: 'invalid dsn: invalid connection option "bogus"' });
    expect(backendLoginFromDatabaseUrl(`${base}?empty=`)).toMatchObject({ ok: true, login: { options: {} } });
  });

  it('refuses other schemes the way SQLAlchemy does', () => {
    expect(backendLoginFromDatabaseUrl('postgres://u:p@h:5432/d')).toMatchObject({ ok: false, stage: 'create-engine', error: "Can't load plugin: sqlalchemy.dialects:postgres" });
    expect(backendLoginFromDatabaseUrl('http://u:p@h/d')).toMatchObject({ ok: false, stage: 'create-engine' });
    expect(backendLoginFromDatabaseUrl('')).toMatchObject({ ok: false, stage: 'settings', error: 'Input should be a valid URL, input is empty' });
  });
});

describe('psql $DATABASE_URL reads the same string with libpq\'s rules, which differ', () => {
  it('decodes %41 like the backend, but breaks on an @ the backend repairs', () => {
    const url = (password: string) => `postgresql://linkbox:${password}@${ENDPOINT}:5432/linkbox`;
    expect(parseLibpqUri(url('abc%41def')).password).toBe('abcAdef');
    expect(backendLoginFromSsm({ endpoint: ENDPOINT, username: 'linkbox', password: 'pa@ss', name: 'linkbox' })).toMatchObject({ ok: true, login: { password: 'pa@ss' } });
    expect(parseLibpqUri(url('pa@ss'))).toMatchObject({ password: 'pa', host: `ss@${ENDPOINT}` });
  });
});
