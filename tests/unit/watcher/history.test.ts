import { describe, expect, it } from 'vitest';
import { coverageEnd, summarizeHistory, type OverallRow } from '@/lib/watcher/history';

// The timeline and the incidents from the overall rows the watcher wrote.

const now = new Date('2026-12-05T12:00:00Z');
const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
const row = (h: number, state: OverallRow['state'], rootCause: string | null = null, summary: string | null = null): OverallRow => ({ state, rootCause, summary, at: hoursAgo(h) });

describe('the history of an environment', () => {
  it('splits the last 24 hours into stretches of state and counts healthy time against the time the state was known', () => {
    const rows = [row(30, 'healthy'), row(10, 'broken', 'sg.backend-ingress', 'no rule admits the backends'), row(9, 'unknown'), row(8, 'healthy')];
    const { windows } = summarizeHistory(rows, now, now);
    const day = windows[0]!;
    expect(day.segments.map((s) => [s.state, s.from, s.to])).toEqual([
      ['healthy', hoursAgo(24), hoursAgo(10)],
      ['broken', hoursAgo(10), hoursAgo(9)],
      ['unknown', hoursAgo(9), hoursAgo(8)],
      ['healthy', hoursAgo(8), now.toISOString()],
    ]);
    // 22 h healthy, 1 h broken, 1 h could not check: 22 of 23 known hours.
    expect(day.availability.healthyShare).toBeCloseTo(22 / 23, 10);
    expect(day.availability.byState.unknown).toBe(3_600_000);
  });

  it('says "no data" before the first look and after the watcher stopped, and never counts it as healthy', () => {
    const rows = [row(5, 'healthy')];
    const stoppedAt = hoursAgo(2);
    const { windows } = summarizeHistory(rows, coverageEnd(stoppedAt, 60_000, now), now);
    const day = windows[0]!;
    expect(day.segments.map((s) => s.state)).toEqual(['no-data', 'healthy', 'no-data']);
    expect(day.availability.byState.healthy).toBe(3 * 3_600_000 + 60_000);
    expect(day.availability.healthyShare).toBe(1);
    expect(summarizeHistory([], null, now).windows[1]!.availability.healthyShare).toBeNull();
  });

  it('covers until now while the watcher keeps looking, and an interval past its last look once it stopped', () => {
    expect(coverageEnd(new Date(now.getTime() - 90_000).toISOString(), 60_000, now)).toEqual(now);
    expect(coverageEnd(new Date(now.getTime() - 600_000).toISOString(), 60_000, now)).toEqual(new Date(now.getTime() - 540_000));
    expect(coverageEnd(null, 60_000, now)).toBeNull();
  });

  it('lists an incident from the first broken look to the next healthy one, through "could not check", with each root cause', () => {
    const rows = [
      row(50, 'healthy'),
      row(40, 'broken', 'sg.backend-ingress', 'revoked'),
      row(39, 'unknown'),
      row(38, 'broken', 'db.login', 'password authentication failed'),
      row(37, 'healthy'),
      row(2, 'broken', 'rds.status', 'stopped'),
    ];
    const { incidents } = summarizeHistory(rows, now, now);
    expect(incidents).toEqual([
      { start: hoursAgo(2), end: null, durationMs: 2 * 3_600_000, rootCauses: [{ check: 'rds.status', summary: 'stopped' }] },
      {
        start: hoursAgo(40),
        end: hoursAgo(37),
        durationMs: 3 * 3_600_000,
        rootCauses: [
          { check: 'sg.backend-ingress', summary: 'revoked' },
          { check: 'db.login', summary: 'password authentication failed' },
        ],
      },
    ]);
  });

  it('does not call a degraded or uncheckable stretch an incident', () => {
    expect(summarizeHistory([row(5, 'healthy'), row(4, 'degraded'), row(3, 'unknown'), row(2, 'healthy')], now, now).incidents).toEqual([]);
  });
});
