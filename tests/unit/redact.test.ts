import { describe, expect, it } from 'vitest';
import { describeAwsError } from '@/lib/aws/errors';
import { maskUrlPassword, redact, shorten } from '@/lib/redact';

// The one redactor, over the passwords that break naive masking: "/", a second "@", "#", spaces,
// and a secret that straddles the point where a long message is cut.

describe('maskUrlPassword', () => {
  it.each([
    ['postgresql://linkbox:s3cr3t@db:5432/app', 'postgresql://linkbox:****@db:5432/app'],
    ['postgresql://linkbox:pa/ss@db:5432/app', 'postgresql://linkbox:****@db:5432/app'],
    ['postgresql://linkbox:p@ss@w@db:5432/app', 'postgresql://linkbox:****@db:5432/app'],
    ['postgresql://linkbox:p#ss?x@db/app', 'postgresql://linkbox:****@db/app'],
    ['postgresql://linkbox:pa ss@db/app', 'postgresql://linkbox:****@db/app'],
    ['postgresql://linkbox@db/app', 'postgresql://linkbox@db/app'],
    ['not a url', 'not a url'],
  ])('%s', (url, masked) => {
    expect(maskUrlPassword(url)).toBe(masked);
  });
});

describe('redact', () => {
  it('masks a URL password with "/" or a second "@" inside free text', () => {
    expect(redact('could not connect: postgresql://u:ab/c@d@host:5432/db refused')).toBe('could not connect: postgresql://u:****@host:5432/db refused');
  });

  it('replaces known secrets, the longest first', () => {
    expect(redact('old=abc new=abcdef', ['abc', 'abcdef'])).toBe('old=**** new=****');
  });

  it('is applied before a message is cut, so no part of a secret survives the cut', () => {
    const secret = 'Zx9-very-long-secret-value-1234567890';
    const message = `${'x'.repeat(280)} ${secret} tail`;
    const described = describeAwsError(Object.assign(new Error(message), { name: 'ValidationException' }), { redact: [secret] });
    expect(described.message).not.toContain(secret.slice(0, 10));
    expect(shorten(redact(message, [secret]), 300)).not.toContain('Zx9');
  });
});
