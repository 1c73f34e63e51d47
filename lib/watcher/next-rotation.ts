import 'server-only';
import { getEnvironment } from '@/lib/config/load';
import { assertRole, type Caller } from '@/lib/roles';
import { watchStateOf } from './observe';
import { describeSchedule, nextScheduledRotation } from './schedule';

// What the rotate page says about the schedule: the policy in words and when the watcher will next
// rotate, from what the watcher last read of the password (no AWS call).

export interface ScheduledRotationView {
  policy: string;
  timeZone: string;
  /** ISO time of the next scheduled rotation; null until the watcher has read the password's age. */
  nextAt: string | null;
  /** The watcher's last attempt, if any. */
  lastAttemptAt: string | null;
}

export async function getScheduledRotation(caller: Caller | null, environment: string, now = new Date()): Promise<ScheduledRotationView | null> {
  assertRole(caller, 'viewer');
  const env = getEnvironment(environment);
  if (env.kind !== 'aws' || !env.rotationSchedule) return null;
  const state = await watchStateOf(env.name);
  const changedAt = state?.password_changed_at ? new Date(state.password_changed_at) : null;
  const attemptedAt = state?.rotation_attempted_at ? new Date(state.rotation_attempted_at) : null;
  const next = nextScheduledRotation(env.rotationSchedule, changedAt, attemptedAt, now);
  return {
    policy: describeSchedule(env.rotationSchedule),
    timeZone: env.rotationSchedule.window.timeZone,
    nextAt: next?.toISOString() ?? null,
    lastAttemptAt: state?.rotation_attempted_at ?? null,
  };
}
