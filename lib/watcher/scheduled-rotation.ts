import 'server-only';
import { randomUUID } from 'node:crypto';
import { recordAuditSafely } from '@/lib/audit';
import type { EnvironmentStatus } from '@/lib/checks/types';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { latestRotation, liveLock, unfinishedRotation } from '@/lib/operations';
import { beginSystemOperation, SYSTEM_ACTOR } from '@/lib/operations/system';
import { redact, shorten } from '@/lib/redact';
import { rotateUnderGrant } from '@/lib/rotation';
import { getStore } from '@/lib/store';
import { plainNotification } from './notification';
import { watchStateOf } from './observe';
import { enqueue } from './outbox';
import { scheduleDecision } from './schedule';
import type { WebhookTarget } from './targets';

// The scheduled rotation: at a look inside the maintenance window, when the password is older than
// the policy allows and the environment is healthy enough, the watcher starts the same safe rotation
// a person starts, as the system actor (lib/operations/system.ts: the same lock, the same
// stuck-rotation rule, the same audit; no confirmation, because nobody is there to give one). One
// attempt per opening of the window. A skip is audited and announced once per opening and reason;
// the rotation's start and end are announced like any state change.

export interface ScheduleSettings {
  publicUrl: string | null;
  targets: readonly WebhookTarget[];
}

/** Warnings the rotation itself clears: an old password, or one that is not a SecureString. */
const CLEARED_BY_ROTATION = new Set(['ssm.password-age', 'ssm.password-type']);

/** Why the environment is not healthy enough to rotate safely, or null when it is. */
export function rotationBlocker(status: EnvironmentStatus): { key: string; reason: string } | null {
  if (status.stale) return { key: 'stale', reason: `the console could not check ${status.environment} (${status.staleReason ?? 'no check answered'})` };
  const blocking = status.checks.filter((c) => c.status !== 'pass' && !(c.status === 'warn' && CLEARED_BY_ROTATION.has(c.id)));
  if (blocking.length === 0) return null;
  return {
    key: blocking.map((c) => `${c.id}=${c.status}`).join(','),
    reason: `${status.environment} is ${status.overall}${status.rootCause ? ` (root cause ${status.rootCause})` : ''}: ${blocking
      .map((c) => `${c.id} ${c.status === 'error' ? 'could not be checked' : c.status}: ${shorten(redact(c.summary), 160)}`)
      .join('; ')}`,
  };
}

export async function runSchedule(env: AwsEnvironmentConfig, status: EnvironmentStatus, settings: ScheduleSettings, now = new Date()): Promise<void> {
  await announceFinished(env.name, settings);
  const schedule = env.rotationSchedule;
  if (!schedule) return;
  const state = await watchStateOf(env.name);
  if (!state) return;
  const changedAt = status.password?.lastModified ?? state.password_changed_at;
  const decision = scheduleDecision(schedule, changedAt ? new Date(changedAt) : null, state.rotation_attempted_at ? new Date(state.rotation_attempted_at) : null, now);
  if (!decision.due) return;
  const opening = decision.opening.start.toISOString();

  const blocker = rotationBlocker(status) ?? (await stuckRotation(env.name));
  if (blocker) return skip(env.name, `${opening} ${blocker.key}`, blocker.reason, state.rotation_skipped, settings);
  // Someone's operation holds the environment: try again at the next look, while the window is open.
  if (await liveLock(env.name)) return;

  // One attempt per opening, even if two replicas ever look at once.
  const store = await getStore();
  const claimed = await store.db
    .updateTable('watch_state')
    .set({ rotation_attempted_at: now.toISOString(), rotation_skipped: null })
    .where('environment', '=', env.name)
    .where((eb) => eb.or([eb('rotation_attempted_at', 'is', null), eb('rotation_attempted_at', '<', opening)]))
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) === 0) return;

  const begun = await beginSystemOperation(env.name, {
    action: 'rotation.start',
    operation: 'rotation',
    underLock: async () => (await unfinishedRotation(env.name))?.reason ?? null,
  });
  if (!begun.ok) return announce(env.name, `The scheduled rotation of ${env.name} did not start: ${begun.error}.`, settings);
  const started = await rotateUnderGrant(begun.grant);
  if (!started.ok) return announce(env.name, `The scheduled rotation of ${env.name} stopped at its preflight: ${started.error}.`, settings);
  await store.db.updateTable('watch_state').set({ rotation_id: started.rotationId }).where('environment', '=', env.name).execute();
  await announce(env.name, `The scheduled rotation ${started.rotationId} of ${env.name} has started: the password is older than the policy allows and the maintenance window is open.`, settings);
}

async function stuckRotation(environment: string): Promise<{ key: string; reason: string } | null> {
  const stuck = await unfinishedRotation(environment);
  return stuck ? { key: `rotation ${stuck.id}`, reason: stuck.reason } : null;
}

async function skip(environment: string, key: string, reason: string, lastSkip: string | null, settings: ScheduleSettings): Promise<void> {
  if (lastSkip === key) return;
  const store = await getStore();
  await store.db.updateTable('watch_state').set({ rotation_skipped: key }).where('environment', '=', environment).execute();
  await recordAuditSafely({ ...SYSTEM_ACTOR, action: 'rotation.scheduled', environment, outcome: 'refused', detail: `skipped the scheduled rotation: ${reason}` });
  await announce(environment, `The scheduled rotation of ${environment} was skipped: ${reason}.`, settings);
}

/** The end of a scheduled rotation this or another replica started (its audit entry is the rotation's own). */
async function announceFinished(environment: string, settings: ScheduleSettings): Promise<void> {
  const state = await watchStateOf(environment);
  if (!state?.rotation_id) return;
  const rotation = await latestRotation(environment);
  if (rotation?.id === state.rotation_id && (rotation.state === 'running' || rotation.state === 'rolling-back')) return;
  const store = await getStore();
  const cleared = await store.db.updateTable('watch_state').set({ rotation_id: null }).where('environment', '=', environment).where('rotation_id', '=', state.rotation_id).executeTakeFirst();
  if (Number(cleared.numUpdatedRows) === 0 || rotation?.id !== state.rotation_id) return;
  await announce(
    environment,
    rotation.state === 'completed'
      ? `The scheduled rotation ${rotation.id} of ${environment} completed: a new password is in SSM and RDS, and the containers were restarted.`
      : `The scheduled rotation ${rotation.id} of ${environment} ended ${rotation.state}: ${rotation.error ?? 'see the rotate page'}.`,
    settings,
  );
}

async function announce(environment: string, message: string, settings: ScheduleSettings): Promise<void> {
  const store = await getStore();
  await enqueue(store.db, plainNotification(randomUUID(), 'scheduled-rotation', environment, message, settings.publicUrl), settings.targets);
}
