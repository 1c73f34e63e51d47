import { describe, expect, it } from 'vitest';
import { afterLook, parseSignature, signatureOf, type Seen } from '@/lib/watcher/damping';

// Flap damping: what would be announced after each look, for a sequence of looks.
function announcements(looks: string[], announceAfter: number, start: Seen | null = null): string[] {
  let seen = start;
  const out: string[] = [];
  for (const look of looks) {
    const { next, announce } = afterLook(seen, look, announceAfter);
    if (announce) out.push(`${announce.from ?? '∅'}→${announce.to}`);
    seen = next;
  }
  return out;
}

describe('flap damping', () => {
  it('announces a state once it held for N looks, and only once', () => {
    expect(announcements(['healthy', 'broken:db.login', 'broken:db.login', 'broken:db.login'], 2)).toEqual(['healthy→broken:db.login']);
  });

  it('never announces a state that flapped back before N looks', () => {
    expect(announcements(['healthy', 'broken:db.login', 'healthy', 'broken:db.login', 'healthy', 'healthy'], 2)).toEqual([]);
  });

  it('announces the recovery once healthy held for N looks', () => {
    expect(announcements(['healthy', 'broken:net.tcp', 'broken:net.tcp', 'healthy', 'healthy'], 2)).toEqual(['healthy→broken:net.tcp', 'broken:net.tcp→healthy']);
  });

  it('announces a new root cause as a change of its own', () => {
    expect(announcements(['healthy', 'broken:sg.backend-ingress', 'broken:db.login'], 1)).toEqual(['healthy→broken:sg.backend-ingress', 'broken:sg.backend-ingress→broken:db.login']);
  });

  it('says nothing when a console first sees a healthy environment, but tells a broken one at once', () => {
    expect(announcements(['healthy', 'healthy'], 1)).toEqual([]);
    expect(announcements(['broken:rds.status'], 1)).toEqual(['∅→broken:rds.status']);
  });

  it('goes on where the last leader stopped: the stored state carries the count and what was announced', () => {
    expect(announcements(['broken:db.login'], 2, { observed: 'broken:db.login', count: 1, announced: 'healthy' })).toEqual(['healthy→broken:db.login']);
    expect(announcements(['broken:db.login'], 2, { observed: 'broken:db.login', count: 5, announced: 'broken:db.login' })).toEqual([]);
  });

  it('names the root cause only for a broken environment', () => {
    expect(signatureOf('broken', 'db.login')).toBe('broken:db.login');
    expect(signatureOf('degraded', null)).toBe('degraded');
    expect(parseSignature('broken:db.login')).toEqual({ state: 'broken', rootCause: 'db.login' });
    expect(parseSignature('unknown')).toEqual({ state: 'unknown', rootCause: null });
  });
});
