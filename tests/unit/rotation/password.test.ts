import { describe, expect, it } from 'vitest';
import { generatePassword, PASSWORD_LENGTH, passwordProblem } from '@/lib/rotation/password';

describe('generated master passwords', () => {
  it('are 40 URL-unreserved characters starting with a letter or digit', () => {
    for (let i = 0; i < 200; i++) {
      const password = generatePassword();
      expect(password).toHaveLength(PASSWORD_LENGTH);
      expect(password).toMatch(/^[A-Za-z0-9][A-Za-z0-9\-_.~]+$/);
      expect(passwordProblem(password)).toBeNull();
    }
  });

  it('survive being pasted into DATABASE_URL without encoding, as start_application.sh does', () => {
    const password = generatePassword();
    const url = new URL(`postgresql://linkbox:${password}@db.example:5432/linkbox`);
    expect(decodeURIComponent(url.password)).toBe(password);
    expect(url.hostname).toBe('db.example');
  });

  it('are not repeated', () => {
    const seen = new Set(Array.from({ length: 100 }, generatePassword));
    expect(seen.size).toBe(100);
  });
});

describe('password validation before any write', () => {
  it.each([
    ['abc12', 'shorter than 32'],
    ['a'.repeat(129), 'longer than 128'],
    [`${'a'.repeat(35)}/bcd`, 'refuses'],
    [`${'a'.repeat(35)}@bcd`, 'refuses'],
    [`${'a'.repeat(35)}"bcd`, 'refuses'],
    [`${'a'.repeat(35)} bcd`, 'not printable'],
    [`${'a'.repeat(35)}#bcd`, 'not URL-safe'],
    [`${'a'.repeat(35)}%bcd`, 'not URL-safe'],
    [`-${'a'.repeat(39)}`, 'starts with a symbol'],
  ])('rejects %j (%s) without echoing it', (candidate, reason) => {
    const problem = passwordProblem(candidate);
    expect(problem).toContain(reason);
    expect(problem).not.toContain(candidate);
  });
});
