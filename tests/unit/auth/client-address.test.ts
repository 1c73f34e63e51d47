import { describe, expect, it } from 'vitest';
import { clientAddress } from '@/lib/auth/client-address';

describe('the client address behind proxies', () => {
  it('takes the connection address next start wrote into X-Forwarded-For when no proxy is trusted', () => {
    expect(clientAddress('127.0.0.1', 0)).toBe('127.0.0.1');
    expect(clientAddress('::ffff:10.1.2.3', 0)).toBe('10.1.2.3');
    expect(clientAddress('::1', 0)).toBe('::1');
  });

  it('behind one load balancer, takes the address it appended and ignores what the client wrote before it', () => {
    expect(clientAddress('203.0.113.9', 1)).toBe('203.0.113.9');
    expect(clientAddress('6.6.6.6, 203.0.113.9', 1)).toBe('203.0.113.9');
    expect(clientAddress('1.1.1.1,2.2.2.2 , 203.0.113.9', 1)).toBe('203.0.113.9');
  });

  it('behind two, takes the address the outer one saw', () => {
    expect(clientAddress('6.6.6.6, 203.0.113.9, 10.0.0.5', 2)).toBe('203.0.113.9');
  });

  it('takes the leftmost entry when there are fewer entries than trusted hops', () => {
    expect(clientAddress('203.0.113.9', 3)).toBe('203.0.113.9');
  });

  it('reads addresses with ports and brackets, and refuses what is not an address', () => {
    expect(clientAddress('203.0.113.9:4711', 1)).toBe('203.0.113.9');
    expect(clientAddress('[2001:DB8::1]:443', 1)).toBe('2001:db8::1');
    expect(clientAddress('unknown', 1)).toBeNull();
    expect(clientAddress('evil.example', 0)).toBeNull();
    expect(clientAddress('', 0)).toBeNull();
    expect(clientAddress(null, 1)).toBeNull();
  });
});
