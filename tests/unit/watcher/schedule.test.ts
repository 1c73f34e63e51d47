import { describe, expect, it } from 'vitest';
import type { RotationSchedule } from '@/lib/config/schema';
import { describeSchedule, nextOpening, nextScheduledRotation, openWindowAt, scheduleDecision } from '@/lib/watcher/schedule';

// The maintenance window is read on the wall clock of its own time zone, across midnight and DST.

const at = (iso: string) => new Date(iso);
const weekendNights: RotationSchedule = { maxPasswordAgeDays: 30, window: { days: ['sat', 'sun'], start: '02:00', end: '04:00', timeZone: 'Europe/Berlin' } };

describe('the maintenance window', () => {
  it('is open on its days between its hours, in its own time zone', () => {
    // 2026-12-05 is a Saturday; Berlin is UTC+1 in winter.
    expect(openWindowAt(weekendNights.window, at('2026-12-05T01:30:00Z'))).toEqual({ start: at('2026-12-05T01:00:00Z'), end: at('2026-12-05T03:00:00Z') });
    expect(openWindowAt(weekendNights.window, at('2026-12-05T00:59:00Z'))).toBeNull();
    expect(openWindowAt(weekendNights.window, at('2026-12-05T03:00:00Z'))).toBeNull();
    // Friday at the same hours is closed.
    expect(openWindowAt(weekendNights.window, at('2026-12-04T01:30:00Z'))).toBeNull();
  });

  it('follows daylight saving time: 02:00 in Berlin is 00:00 UTC in summer', () => {
    expect(openWindowAt(weekendNights.window, at('2026-07-04T00:30:00Z'))?.start).toEqual(at('2026-07-04T00:00:00Z'));
    expect(openWindowAt(weekendNights.window, at('2026-07-04T02:30:00Z'))).toBeNull();
  });

  it('runs past midnight when it ends before it starts, and belongs to the day it opened', () => {
    const fridayNight = { days: ['fri' as const], start: '22:00', end: '02:00', timeZone: 'UTC' };
    expect(openWindowAt(fridayNight, at('2026-12-05T01:00:00Z'))).toEqual({ start: at('2026-12-04T22:00:00Z'), end: at('2026-12-05T02:00:00Z') });
    expect(openWindowAt(fridayNight, at('2026-12-06T01:00:00Z'))).toBeNull(); // Saturday night: not a Friday opening
  });

  it('is open all day when it starts and ends at the same time', () => {
    const allDay = { days: ['mon' as const, 'tue' as const, 'wed' as const, 'thu' as const, 'fri' as const, 'sat' as const, 'sun' as const], start: '00:00', end: '00:00', timeZone: 'Asia/Kolkata' };
    expect(openWindowAt(allDay, at('2026-12-02T12:34:00Z'))).not.toBeNull();
  });

  it('finds the next opening a week ahead at most', () => {
    expect(nextOpening(weekendNights.window, at('2026-12-07T12:00:00Z'))?.start).toEqual(at('2026-12-12T01:00:00Z'));
  });
});

describe('the scheduler', () => {
  const changed = at('2026-11-01T00:00:00Z');

  it('rotates once the password is older than the policy, inside the window, once per opening', () => {
    const inside = at('2026-12-05T01:30:00Z');
    expect(scheduleDecision(weekendNights, changed, null, inside)).toMatchObject({ due: true });
    expect(scheduleDecision(weekendNights, changed, at('2026-12-05T01:05:00Z'), inside)).toMatchObject({ due: false, why: expect.stringContaining('already attempted') });
    // An attempt in last week's opening does not count for this one.
    expect(scheduleDecision(weekendNights, changed, at('2026-11-29T01:05:00Z'), inside)).toMatchObject({ due: true });
  });

  it('waits while the password is young or the window is closed, and says why', () => {
    expect(scheduleDecision(weekendNights, at('2026-11-20T00:00:00Z'), null, at('2026-12-05T01:30:00Z'))).toEqual({ due: false, why: 'the password is younger than 30 days' });
    expect(scheduleDecision(weekendNights, changed, null, at('2026-12-04T01:30:00Z'))).toEqual({ due: false, why: 'the maintenance window is closed' });
    expect(scheduleDecision(weekendNights, null, null, at('2026-12-05T01:30:00Z'))).toMatchObject({ due: false });
  });

  it('names the next scheduled rotation: the first opening once the password is old enough', () => {
    // Old enough from 2026-12-01 (a Tuesday): the first opening after is Saturday 02:00 Berlin.
    expect(nextScheduledRotation(weekendNights, changed, null, at('2026-11-10T00:00:00Z'))).toEqual(at('2026-12-05T01:00:00Z'));
    // Due and inside an opening not yet attempted: now.
    expect(nextScheduledRotation(weekendNights, changed, null, at('2026-12-05T01:30:00Z'))).toEqual(at('2026-12-05T01:30:00Z'));
    // Attempted in this opening: the next one (Sunday).
    expect(nextScheduledRotation(weekendNights, changed, at('2026-12-05T01:05:00Z'), at('2026-12-05T01:30:00Z'))).toEqual(at('2026-12-06T01:00:00Z'));
    expect(nextScheduledRotation(weekendNights, null, null, at('2026-12-05T01:30:00Z'))).toBeNull();
  });

  it('describes the policy in words', () => {
    expect(describeSchedule(weekendNights)).toBe('when the password is older than 30 days, Sat, Sun 02:00–04:00 (Europe/Berlin)');
    expect(describeSchedule({ ...weekendNights, maxPasswordAgeDays: 0 })).toMatch(/^at every window, /);
  });
});
