import { describe, expect, it } from 'vitest';
import { backendReading, judgeBackendCredentials, psqlReading, pythonUnquote } from '@/lib/checks/database-url';
import { DATABASE_URL_CASES, ENDPOINT, ssmValues } from '../../support/database-url-cases';

// The console's own reading of DATABASE_URL (lib/checks/database-url.ts) over the table of cases
// the lab's model of the backend is tested against too (tests/unit/lab/backend-database-url.test.ts):
// two implementations that share no code, agreeing row by row with the real chain.

describe('what the backend sends for the SSM values, row by row of the shared table', () => {
  it.each(DATABASE_URL_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const reading = backendReading(ssmValues(c));
    if ('fails' in c.backend) expect(reading).toEqual({ ok: false, ...c.backend.fails });
    else expect(reading).toEqual({ ok: true, sends: c.backend.sends, options: {} });
  });
});

describe('psql $DATABASE_URL reads the same text with libpq\'s URI rules', () => {
  const url = (password: string) => ({ endpoint: ENDPOINT, username: 'linkbox', password, name: 'linkbox' });

  it('decodes %41 like the backend', () => {
    expect(psqlReading(url('abc%41def'))).toMatchObject({ ok: true, sends: { password: 'abcAdef' } });
  });

  it('breaks at an @ the backend repairs, and at a / the backend survives after digits', () => {
    expect(psqlReading(url('pa@ss'))).toMatchObject({ ok: true, sends: { password: 'pa', host: `ss@${ENDPOINT}` } });
    expect(psqlReading(url('12/ss'))).toMatchObject({ ok: true, sends: { user: null, password: null, host: 'linkbox', port: 12 } });
  });

  it('refuses a lone % and %00 outright, where the backend sends the first and fails on the second', () => {
    expect(psqlReading(url('100%'))).toEqual({ ok: false, error: 'invalid percent-encoded token' });
    expect(psqlReading(url('nul%00byte'))).toEqual({ ok: false, error: 'forbidden value %00 in percent-encoded value' });
  });

  it('lists, for every row of the table, where psql and the backend part ways', () => {
    const differ = DATABASE_URL_CASES.flatMap((c) => {
      const v = judgeBackendCredentials(ssmValues(c), 5432);
      if (v.reading.ok && v.psql.ok) return v.psqlDiffers.length ? [`${c.name}: ${v.psqlDiffers.join(', ')}`] : [];
      if (v.reading.ok !== v.psql.ok) return [`${c.name}: ${v.psql.ok ? 'psql connects, the backend fails' : `psql fails (${v.psql.error})`}`];
      return [];
    });
    console.log(['', 'Where `psql $DATABASE_URL` differs from the backend:', ...differ.map((d) => `  ${d}`)].join('\n'));
    expect(differ.length).toBeGreaterThan(0);
    expect(differ.some((d) => d.startsWith('@ is repaired'))).toBe(true);
  });
});

describe('judging the stored values', () => {
  const stored = (password: string, other: Partial<{ username: string; name: string; endpoint: string }> = {}) => ({ endpoint: ENDPOINT, username: 'linkbox', name: 'linkbox', password, ...other });

  it('passes a password rotation would generate', () => {
    expect(judgeBackendCredentials(stored('Q7vLx2-pT_9.kR~m4ZsW8bN3cYh6J0dFa'), 5432)).toMatchObject({ differences: [], cause: null });
  });

  it('names the parameter and the kind of character, never the value', () => {
    const v = judgeBackendCredentials(stored('abc%41def'), 5432);
    expect(v.differences).toEqual([{ field: 'password', parameter: 'db-password' }]);
    expect(v.cause).toEqual({ parameter: 'db-password', kinds: ['a percent sign followed by two hex digits (%XX)'] });
    expect(JSON.stringify(v.cause)).not.toContain('abc');
  });

  it('blames the user name when its colon moves part of it into the password', () => {
    expect(judgeBackendCredentials(stored('secret', { username: 'link:box' }), 5432).cause).toEqual({ parameter: 'db-username', kinds: ['a colon (:)'] });
  });

  it('finds why the app cannot start or docker cannot run', () => {
    expect(judgeBackendCredentials(stored('pa/ss'), 5432)).toMatchObject({ reading: { ok: false, stage: 'settings' }, cause: { parameter: 'db-password', kinds: ['a slash (/)'] } });
    expect(judgeBackendCredentials(stored('pa ss'), 5432)).toMatchObject({ reading: { ok: false, stage: 'docker-run' }, cause: { kinds: ['whitespace (a space, tab or newline)'] } });
  });

  it('tells a database on another port from a character problem', () => {
    expect(judgeBackendCredentials(stored('secret'), 6432)).toMatchObject({ differences: [{ field: 'port', parameter: null }], cause: null });
  });

  it('unquotes as Python does', () => {
    expect(pythonUnquote('a%41%4')).toBe('aA%4');
    expect(pythonUnquote('%C3%A4%C3')).toBe('ä\uFFFD');
  });
});
