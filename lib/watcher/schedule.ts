import { WEEKDAYS, type RotationSchedule, type Weekday } from '@/lib/config/schema';

// When a scheduled rotation is due: the password is older than the policy's age, and the clock in
// the policy's time zone is inside its maintenance window. One attempt per opening of the window,
// so a rotation that failed (or a policy of 0 days) does not start again at every look. Pure: the
// watcher and the rotate page ask with the time they mean.

type Window = RotationSchedule['window'];

const DAY_MS = 86_400_000;

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at `ms`: its date, and minutes since its midnight. */
function wallClock(ms: number, timeZone: string): LocalDate & { minutes: number } {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return { year: Number(parts.year), month: Number(parts.month), day: Number(parts.day), minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

/** The instant the wall clock in `timeZone` shows `date` at `minutes` (in a DST gap, the hour after). */
function instantOf(date: LocalDate, minutes: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const offsetAt = (ms: number) => {
    const w = wallClock(ms, timeZone);
    return Date.UTC(w.year, w.month - 1, w.day, 0, w.minutes) - Math.floor(ms / 60_000) * 60_000;
  };
  const first = wall - offsetAt(wall);
  const second = wall - offsetAt(first);
  return Math.max(first, second);
}

function addDays(date: LocalDate, days: number): LocalDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function weekdayOf(date: LocalDate): Weekday {
  // getUTCDay: 0 is Sunday; WEEKDAYS starts on Monday.
  return WEEKDAYS[(new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7]!;
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h! * 60 + m!;
}

export interface WindowOpening {
  start: Date;
  end: Date;
}

/** The opening of the window that starts on `date`, if the window opens that day. */
function openingOn(window: Window, date: LocalDate): WindowOpening | null {
  if (!window.days.includes(weekdayOf(date))) return null;
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  // An end at or before the start is the next day's (22:00–02:00; 00:00–00:00 is the whole day).
  const endDate = end <= start ? addDays(date, 1) : date;
  return { start: new Date(instantOf(date, start, window.timeZone)), end: new Date(instantOf(endDate, end, window.timeZone)) };
}

/** The opening of the window that `at` falls in, or null while the window is closed. */
export function openWindowAt(window: Window, at: Date): WindowOpening | null {
  const today = wallClock(at.getTime(), window.timeZone);
  for (const date of [addDays(today, -1), today]) {
    const opening = openingOn(window, date);
    if (opening && opening.start <= at && at < opening.end) return opening;
  }
  return null;
}

/** The first opening that starts at or after `from` (within the next eight days: every window opens weekly). */
export function nextOpening(window: Window, from: Date): WindowOpening | null {
  const today = wallClock(from.getTime(), window.timeZone);
  for (let i = -1; i <= 8; i++) {
    const opening = openingOn(window, addDays(today, i));
    if (opening && opening.start >= from) return opening;
  }
  return null;
}

export type ScheduleDecision =
  | { due: true; opening: WindowOpening }
  | { due: false; why: string };

/**
 * Whether the scheduler rotates now. `attemptedAt` is its last attempt: one per opening of the window.
 */
export function scheduleDecision(schedule: RotationSchedule, passwordChangedAt: Date | null, attemptedAt: Date | null, now: Date): ScheduleDecision {
  if (!passwordChangedAt) return { due: false, why: 'the password’s last change is not known yet' };
  const dueFrom = passwordChangedAt.getTime() + schedule.maxPasswordAgeDays * DAY_MS;
  if (now.getTime() < dueFrom) return { due: false, why: `the password is younger than ${schedule.maxPasswordAgeDays} days` };
  const opening = openWindowAt(schedule.window, now);
  if (!opening) return { due: false, why: 'the maintenance window is closed' };
  if (attemptedAt && attemptedAt >= opening.start) return { due: false, why: 'it was already attempted in this opening of the window' };
  return { due: true, opening };
}

/** When the scheduler will next rotate: the first moment both the age and the window allow, or null when unknown. */
export function nextScheduledRotation(schedule: RotationSchedule, passwordChangedAt: Date | null, attemptedAt: Date | null, now: Date): Date | null {
  if (!passwordChangedAt) return null;
  let from = new Date(Math.max(now.getTime(), passwordChangedAt.getTime() + schedule.maxPasswordAgeDays * DAY_MS));
  const open = openWindowAt(schedule.window, from);
  if (open) {
    if (!(attemptedAt && attemptedAt >= open.start)) return from;
    from = open.end;
  }
  return nextOpening(schedule.window, from)?.start ?? null;
}

/** The policy in the operator's words: "when the password is older than 30 days, Sat, Sun 02:00–04:00 (Europe/Berlin)". */
export function describeSchedule(schedule: RotationSchedule): string {
  const { days, start, end, timeZone } = schedule.window;
  const dayNames = WEEKDAYS.filter((d) => days.includes(d)).map((d) => d[0]!.toUpperCase() + d.slice(1));
  const age = schedule.maxPasswordAgeDays === 0 ? 'at every window' : `when the password is older than ${schedule.maxPasswordAgeDays} days`;
  return `${age}, ${dayNames.join(', ')} ${start}–${end} (${timeZone})`;
}
