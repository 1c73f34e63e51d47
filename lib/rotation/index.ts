import 'server-only';
import { processWide } from '@/lib/process-wide';
import { randomUUID } from 'node:crypto';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { getStore } from '@/lib/audit/store';
import { AuthorizationError, hasRole, type Caller } from '@/lib/auth/caller';
import { getConfig } from '@/lib/config/load';
import { awsEnvironment } from '@/lib/deploy';
import { acquireLock, currentLock, LOCK_LEASE_MS } from './lock';
import { addRollbackSteps, insertRotation, latestRotation, newRotationRecord, saveRotation, step, unfinishedRotations, type RotationRecord } from './record';
import { finishRun, ROLLBACK_STEP_NAMES, ROTATION_STEP_NAMES, runSteps, type RunContext } from './workflow';
import type { RollbackRotationResult, RotationView, StartRotationResult } from './types';

// Rotating LinkBox's database password, as the rotate page and the start-up hook use it. Every
// function checks the caller itself; refusals are audited here. Starting returns once the
// preflight passed; the rest runs in this process and any replica can show it from the store.

export type { RotationView, StartRotationResult, RollbackRotationResult, StepView, StepStatus, RotationState } from './types';
export { ROTATION_STEPS, ROLLBACK_STEPS } from './types';

type HeldBy = { by: string; since: string };

/** Work this process is carrying out, per environment; tests and shutdown can wait for it. */
const running = processWide('rotation.running', () => new Map<string, Promise<void>>());

export async function startRotation(caller: Caller | null, environment: string, input: { confirmEnvironment: string }): Promise<StartRotationResult> {
  const action = 'rotation.start';
  const who = auditActor(caller);
  const refuse = async (error: string, heldBy?: HeldBy): Promise<StartRotationResult> => {
    await recordAuditSafely({ ...who, action, environment, outcome: 'refused', detail: error });
    return heldBy ? { ok: false, error, heldBy } : { ok: false, error };
  };
  if (!hasRole(caller, 'operator')) return refuse(who.role ? `${who.actor} is ${who.role}; rotating the password needs operator` : 'sign in first');
  const env = awsEnvironment(environment);
  if (!env.ok) return refuse(env.error);
  if (input.confirmEnvironment !== environment) return refuse('the typed confirmation does not match the environment name');

  const id = randomUUID();
  const acquired = await acquireLock(environment, 'rotation', id, caller.id);
  if (!acquired.ok) {
    const h = acquired.heldBy;
    return refuse(`a ${h.operation} of ${environment} by ${h.by} has been running since ${h.since}`, { by: h.by, since: h.since });
  }
  const lock = acquired.lock;

  // A rotation whose console died holds no live lock, so we got it: finish that one instead of starting another.
  const previous = await latestRotation(environment);
  if (previous && (previous.state === 'running' || previous.state === 'rolling-back')) {
    await lock.release();
    await resumeOne(previous);
    return refuse(`the rotation started by ${previous.startedBy} at ${previous.startedAt} did not finish; this console is resuming it`, {
      by: previous.startedBy,
      since: previous.startedAt,
    });
  }

  const record = newRotationRecord(id, environment, caller.id, caller.role);
  await insertRotation(record);
  await recordAuditSafely({ ...who, action, environment, outcome: 'success', detail: `rotation ${id} started` });
  const ctx: RunContext = { env: env.config, record, lock, secrets: [] };
  lock.startRenewing();

  // The preflight runs before answering, so "RDS is modifying" or "a pending password exists" is
  // told at once; it changes nothing, so a crash here leaves nothing to undo.
  const preflight = await runSteps(ctx, ['preflight']);
  if (!preflight.ok) {
    await finishRun(ctx, preflight, 'rotation');
    return { ok: false, error: 'error' in preflight ? preflight.error : preflight.lost };
  }
  track(environment, continueRun(ctx, 'rotation'));
  return { ok: true, rotationId: id };
}

export async function getRotation(caller: Caller | null, environment: string): Promise<RotationView | null> {
  if (!hasRole(caller, 'viewer')) throw new AuthorizationError('viewer', caller ?? null);
  const record = await latestRotation(environment);
  if (!record) return null;
  const lock = await currentLock(environment);
  const liveLock = lock?.holderAlive ? lock : null;
  const unfinished = record.state === 'running' || record.state === 'rolling-back';
  const beforePromotion = step(record, 'promote').status !== 'done';
  return {
    id: record.id,
    environment: record.environment,
    state: record.state,
    by: record.startedBy,
    role: record.role,
    startedAt: record.startedAt,
    updatedAt: record.updatedAt,
    finishedAt: record.finishedAt,
    error: record.error,
    steps: record.steps,
    // Nobody works on an unfinished rotation whose lock is gone: its console died, and rollback is the other way out.
    canRollBack: beforePromotion && !liveLock && ((record.state === 'failed' && record.rollbackOffered) || (unfinished && startedStoring(record))),
    lock: liveLock ? { by: liveLock.by, since: liveLock.since, operation: liveLock.operation } : null,
  };
}

export async function rollbackRotation(caller: Caller | null, environment: string, input: { confirmEnvironment: string }): Promise<RollbackRotationResult> {
  const action = 'rotation.rollback.start';
  const who = auditActor(caller);
  const refuse = async (error: string, heldBy?: HeldBy): Promise<RollbackRotationResult> => {
    await recordAuditSafely({ ...who, action, environment, outcome: 'refused', detail: error });
    return heldBy ? { ok: false, error, heldBy } : { ok: false, error };
  };
  if (!hasRole(caller, 'operator')) return refuse(who.role ? `${who.actor} is ${who.role}; rolling back needs operator` : 'sign in first');
  const env = awsEnvironment(environment);
  if (!env.ok) return refuse(env.error);
  if (input.confirmEnvironment !== environment) return refuse('the typed confirmation does not match the environment name');

  const record = await latestRotation(environment);
  if (!record) return refuse(`${environment} has no rotation to roll back`);
  if (step(record, 'promote').status === 'done') return refuse(`rotation ${record.id} already promoted the new password; rollback is only possible before that`);
  const acquired = await acquireLock(environment, 'rotation', record.id, record.startedBy);
  if (!acquired.ok) {
    const h = acquired.heldBy;
    return refuse(`a ${h.operation} of ${environment} by ${h.by} has been running since ${h.since}`, { by: h.by, since: h.since });
  }
  // Re-read under the lock: the rotation may have moved on while we waited for it.
  const locked = await latestRotation(environment);
  const offered =
    locked &&
    locked.id === record.id &&
    step(locked, 'promote').status !== 'done' &&
    ((locked.state === 'failed' && locked.rollbackOffered) || ((locked.state === 'running' || locked.state === 'rolling-back') && startedStoring(locked)));
  if (!locked || !offered) {
    await acquired.lock.release();
    return refuse(`rotation ${record.id} is ${locked?.state ?? 'gone'} and has nothing to roll back`);
  }
  locked.state = 'rolling-back';
  locked.error = null;
  locked.finishedAt = null;
  addRollbackSteps(locked);
  await saveRotation(locked);
  await recordAuditSafely({ ...who, action, environment, outcome: 'success', detail: `rolling back rotation ${locked.id}` });
  const ctx: RunContext = { env: env.config, record: locked, lock: acquired.lock, secrets: [] };
  acquired.lock.startRenewing();
  track(environment, continueRun(ctx, 'rollback'));
  return { ok: true, rotationId: locked.id };
}

let sweeper: NodeJS.Timeout | undefined;

/**
 * Picks up every rotation a crashed console left unfinished (called at start-up). Returns once the
 * work is launched; a rotation another live console holds is left to it, and looked at again
 * periodically in case that console dies too.
 */
export async function resumeUnfinishedRotations(): Promise<void> {
  await sweep();
  if (!sweeper) {
    sweeper = setInterval(() => void sweep().catch((err) => console.error(`rotation: resume sweep failed: ${(err as Error).message}`)), LOCK_LEASE_MS / 2);
    sweeper.unref();
  }
}

async function sweep(): Promise<void> {
  const configured = new Set(getConfig().environments.map((e) => e.name));
  const latestPerEnvironment = new Map<string, RotationRecord>();
  for (const r of await unfinishedRotations()) latestPerEnvironment.set(r.environment, r);
  for (const record of latestPerEnvironment.values()) {
    if (!configured.has(record.environment) || running.has(record.environment)) continue;
    await resumeOne(record);
  }
  await closeAbandonedRedeploys();
}

async function resumeOne(record: RotationRecord): Promise<void> {
  const env = awsEnvironment(record.environment);
  if (!env.ok) return;
  const acquired = await acquireLock(record.environment, 'rotation', record.id, record.startedBy);
  if (!acquired.ok) return;
  // Re-read under the lock: the previous holder may have finished between our read and the lock.
  const fresh = (await latestRotation(record.environment)) ?? record;
  if (fresh.id !== record.id || (fresh.state !== 'running' && fresh.state !== 'rolling-back')) {
    await acquired.lock.release();
    return;
  }
  await recordAuditSafely({
    actor: 'console',
    role: null,
    action: 'rotation.resume',
    environment: record.environment,
    outcome: 'success',
    detail: `resuming ${fresh.state === 'rolling-back' ? 'the rollback of ' : ''}rotation ${fresh.id} started by ${fresh.startedBy}`,
  });
  const ctx: RunContext = { env: env.config, record: fresh, lock: acquired.lock, secrets: [] };
  acquired.lock.startRenewing();
  track(record.environment, continueRun(ctx, fresh.state === 'rolling-back' ? 'rollback' : 'rotation'));
}

async function continueRun(ctx: RunContext, kind: 'rotation' | 'rollback'): Promise<void> {
  try {
    const outcome = await runSteps(ctx, kind === 'rotation' ? ROTATION_STEP_NAMES : ROLLBACK_STEP_NAMES);
    await finishRun(ctx, outcome, kind);
  } catch (err) {
    // The store itself failed; the record stays unfinished and a console resumes it later.
    console.error(`rotation ${ctx.record.id}: stopped unexpectedly: ${(err as Error).message}`);
    await ctx.lock.release().catch(() => {});
  }
}

function track(environment: string, work: Promise<void>): void {
  const tracked = work.finally(() => {
    if (running.get(environment) === tracked) running.delete(environment);
  });
  running.set(environment, tracked);
}

/** Resolves when this process has no rotation work left for the environment (tests, graceful shutdown). */
export async function rotationWorkSettled(environment: string): Promise<void> {
  while (running.has(environment)) await running.get(environment);
}

function startedStoring(record: RotationRecord): boolean {
  const s = step(record, 'store-pending').status;
  return s !== 'pending' && s !== 'skipped';
}

/** A redeploy left "running" by a dead console is closed as failed, so the page stops showing it as live. */
async function closeAbandonedRedeploys(): Promise<void> {
  const store = await getStore();
  const rows = await store.db.selectFrom('redeploys').select(['id', 'environment', 'reason']).where('state', '=', 'running').execute();
  for (const row of rows) {
    if (row.reason !== 'operator') continue; // a rotation's restart is redone by the rotation itself
    const lock = await currentLock(row.environment);
    if (lock?.holderAlive && lock.operationId === row.id) continue;
    const now = new Date().toISOString();
    await store.db
      .updateTable('redeploys')
      .set({ state: 'failed', error: 'the console running this redeploy stopped before it finished; start it again', updated_at: now, finished_at: now })
      .where('id', '=', row.id)
      .where('state', '=', 'running')
      .execute();
  }
}
