import 'server-only';
import { getConfig } from '@/lib/config/load';
import {
  addSteps,
  assertGrant,
  beginOperation,
  closeAbandonedRedeploys,
  insertRotation,
  latestRotation,
  liveLock,
  LOCK_LEASE_MS,
  newRotationRecord,
  saveRotation,
  step,
  takeOverOperation,
  unfinishedRotation,
  unfinishedRotations,
  type OperationGrant,
  type RotationRecord,
} from '@/lib/operations';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { processWide } from '@/lib/process-wide';
import { assertRole, type Caller } from '@/lib/roles';
import { finishRun, runSteps, type RunContext } from './workflow';
import { ROLLBACK_STEPS, ROTATION_STEPS, type RollbackRotationResult, type RotationView, type StartRotationResult } from './types';

// Rotating LinkBox's database password, as the rotate page, the start-up hook, the sweep and the
// watcher's schedule use it. Starting goes through lib/operations (role, confirmation, lock, audited
// refusals; or the scheduler's entry point, which only lib/watcher reaches); it returns once the
// preflight passed, the rest runs in this process, and any replica can show it from the store.

export type { RotationView, StartRotationResult, RollbackRotationResult, StepView, StepStatus, RotationState } from './types';
export { ROTATION_STEPS, ROLLBACK_STEPS } from './types';

/** Work this process is carrying out, per environment; tests and shutdown can wait for it. */
const running = processWide('rotation.running', () => new Map<string, Promise<void>>());

export async function startRotation(caller: Caller | null, environment: string, input: { confirmEnvironment: string }): Promise<StartRotationResult> {
  let orphan: RotationRecord | undefined;
  const begun = await beginOperation(caller, environment, {
    action: 'rotation.start',
    operation: 'rotation',
    what: 'rotating the password',
    confirmEnvironment: input.confirmEnvironment,
    async underLock() {
      // A rotation whose console died holds no live lock, so we got it: finish that one instead of starting another.
      const previous = await latestRotation(environment);
      if (previous && (previous.state === 'running' || previous.state === 'rolling-back')) {
        orphan = previous;
        return `the rotation started by ${previous.startedBy} at ${previous.startedAt} did not finish; this console is resuming it on /environments/${environment}/rotate`;
      }
      const stuck = await unfinishedRotation(environment);
      return stuck ? `${stuck.reason}; finish or roll it back on /environments/${environment}/rotate before starting another` : null;
    },
  });
  if (!begun.ok) {
    if (orphan) await resumeOne(orphan);
    return orphan ? { ...begun, heldBy: { by: orphan.startedBy, since: orphan.startedAt } } : begun;
  }
  return rotateUnderGrant(begun.grant);
}

/**
 * A rotation under a grant lib/operations issued (beginOperation for a person, the scheduler's
 * entry point for the watcher): recorded, audited, preflighted before answering, then carried out
 * in this process. The grant is the proof that every check passed and the lock is held.
 */
export async function rotateUnderGrant(grant: OperationGrant): Promise<StartRotationResult> {
  assertGrant(grant);
  const environment = grant.env.name;
  const record = newRotationRecord(grant.operationId, environment, grant.actor.actor, grant.actor.role, ROTATION_STEPS);
  await insertRotation(record);
  await recordAuditSafely({ ...grant.actor, action: 'rotation.start', environment, outcome: 'success', detail: `rotation ${record.id} started` });
  const ctx: RunContext = { grant, record, secrets: [] };
  grant.lock.startRenewing();

  // The preflight runs before answering, so "RDS is modifying" or "a pending password exists" is
  // told at once; it changes nothing, so a crash here leaves nothing to undo.
  const preflight = await runSteps(ctx, ['preflight']);
  if (!preflight.ok) {
    await finishRun(ctx, preflight, 'rotation');
    return { ok: false, error: 'error' in preflight ? preflight.error : preflight.lost };
  }
  track(environment, continueRun(ctx, 'rotation'));
  return { ok: true, rotationId: record.id };
}

export async function getRotation(caller: Caller | null, environment: string): Promise<RotationView | null> {
  assertRole(caller, 'viewer');
  const [record, lock] = await Promise.all([latestRotation(environment), liveLock(environment)]);
  if (!record) return null;
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
    canRollBack: !lock && rollbackOffered(record),
    lock,
  };
}

/** Rollback is the way out until the new password is promoted, once RDS may hold it. */
function rollbackOffered(record: RotationRecord): boolean {
  if (step(record, 'promote').status === 'done') return false;
  if (record.state === 'failed') return record.rollbackOffered;
  return (record.state === 'running' || record.state === 'rolling-back') && startedStoring(record);
}

export async function rollbackRotation(caller: Caller | null, environment: string, input: { confirmEnvironment: string }): Promise<RollbackRotationResult> {
  const action = 'rotation.rollback.start';
  const record = await latestRotation(environment);
  const begun = await beginOperation(caller, environment, {
    action,
    operation: 'rotation',
    what: 'rolling back',
    confirmEnvironment: input.confirmEnvironment,
    operationId: record?.id,
    heldBy: record?.startedBy,
    validate: () =>
      !record
        ? `${environment} has no rotation to roll back`
        : step(record, 'promote').status === 'done'
          ? `rotation ${record.id} already promoted the new password; rollback is only possible before that`
          : null,
    async underLock() {
      // Re-read under the lock: the rotation may have moved on while we waited for it.
      const locked = await latestRotation(environment);
      return locked && locked.id === record!.id && rollbackOffered(locked) ? null : `rotation ${record!.id} is ${locked?.state ?? 'gone'} and has nothing to roll back`;
    },
  });
  if (!begun.ok) return begun;
  const { grant } = begun;
  const locked = (await latestRotation(environment))!;
  locked.state = 'rolling-back';
  locked.error = null;
  locked.finishedAt = null;
  addSteps(locked, ROLLBACK_STEPS);
  await saveRotation(locked);
  await recordAuditSafely({ ...auditActor(caller), action, environment, outcome: 'success', detail: `rolling back rotation ${locked.id}` });
  grant.lock.startRenewing();
  track(environment, continueRun({ grant, record: locked, secrets: [] }, 'rollback'));
  return { ok: true, rotationId: locked.id };
}

let sweeper: NodeJS.Timeout | undefined;

/**
 * Picks up every rotation a dead console left unfinished, and closes the redeploys it left (called
 * at start-up, then every lease period by every replica): a rotation another live console holds is
 * left to it, and taken over once its lease has run out — at most two lease periods after its
 * holder died.
 */
export async function resumeUnfinishedRotations(): Promise<void> {
  // Scheduled first: a store that is down at start-up is swept again once it is back.
  if (!sweeper) {
    sweeper = setInterval(() => void sweep().catch((err) => console.error(`rotation: resume sweep failed: ${(err as Error).message}`)), LOCK_LEASE_MS);
    sweeper.unref();
  }
  await sweep();
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
  const grant = await takeOverOperation(record.environment, { operation: 'rotation', operationId: record.id, heldBy: record.startedBy });
  if (!grant) return;
  // Re-read under the lock: the previous holder may have finished between our read and the lock.
  const fresh = (await latestRotation(record.environment)) ?? record;
  if (fresh.id !== record.id || (fresh.state !== 'running' && fresh.state !== 'rolling-back')) {
    await grant.lock.release();
    return;
  }
  await recordAuditSafely({
    ...grant.actor,
    action: 'rotation.resume',
    environment: record.environment,
    outcome: 'success',
    detail: `resuming ${fresh.state === 'rolling-back' ? 'the rollback of ' : ''}rotation ${fresh.id} started by ${fresh.startedBy}`,
  });
  grant.lock.startRenewing();
  track(record.environment, continueRun({ grant, record: fresh, secrets: [] }, fresh.state === 'rolling-back' ? 'rollback' : 'rotation'));
}

async function continueRun(ctx: RunContext, kind: 'rotation' | 'rollback'): Promise<void> {
  try {
    const outcome = await runSteps(ctx, kind === 'rotation' ? ROTATION_STEPS.map((s) => s.name) : ROLLBACK_STEPS.map((s) => s.name));
    await finishRun(ctx, outcome, kind);
  } catch (err) {
    // The store itself failed; the record stays unfinished and a console resumes it later.
    console.error(`rotation ${ctx.record.id}: stopped unexpectedly: ${(err as Error).name}`);
    await ctx.grant.lock.release().catch(() => {});
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
