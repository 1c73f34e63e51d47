import 'server-only';
import { randomUUID } from 'node:crypto';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { getEnvironment, UnknownEnvironmentError } from '@/lib/config/load';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { hasRole, type Caller } from '@/lib/roles';
import { issueGrant, type OperationGrant } from './grant';
import { acquireLock } from './lock';
import { latestRotation, step } from './records';
import type { LockedOperation, Refusal } from './types';

// The one way a dangerous operation starts (a rotation, its rollback, a redeploy): who may, on which
// environment, confirmed how, and only while no other operation holds the environment or is stuck
// half-way. Every refusal is audited here, so no entry point can forget to.

export interface OperationRequest {
  /** The audit log's action name, e.g. "rotation.start". */
  action: string;
  /** What the lock says is running. */
  operation: LockedOperation;
  /** For messages: "rotating the password needs operator". */
  what: string;
  /** The environment name as the person typed it to confirm. */
  confirmEnvironment: string;
  /** The id the operation will have (a rollback keeps its rotation's); new by default. */
  operationId?: string;
  /** Who the lock names as holder; the caller by default (a rollback names the rotation's starter). */
  heldBy?: string;
  /** The operation's own input, checked once the person may act and before the lock; a reason refuses. */
  validate?: () => string | null;
  /** Checked under the lock, so nothing can change between the check and the start; a reason refuses. */
  underLock?: (env: AwsEnvironmentConfig) => Promise<string | null>;
}

export type Begun = { ok: true; grant: OperationGrant } | Refusal;

/** Starts a person's dangerous operation, or refuses it with an audited reason. */
export async function beginOperation(caller: Caller | null, environment: string, request: OperationRequest): Promise<Begun> {
  const who = auditActor(caller);
  const refuse = (error: string, heldBy?: { by: string; since: string }) => refuseOperation(who, request.action, environment, error, heldBy);
  if (!hasRole(caller, 'operator')) return refuse(who.role ? `${who.actor} is ${who.role}; ${request.what} needs operator` : 'sign in first');
  const env = awsEnvironment(environment);
  if (!env.ok) return refuse(env.error);
  if (request.confirmEnvironment !== environment) return refuse('the typed confirmation does not match the environment name');
  const invalid = request.validate?.();
  if (invalid) return refuse(invalid);
  return lockFor(env.config, who, request, refuse);
}

/** Shared with ./system.ts: the lock, the stuck-rotation rule and the operation's own guard. */
export async function lockFor(
  env: AwsEnvironmentConfig,
  who: { actor: string; role: string | null },
  request: Pick<OperationRequest, 'operation' | 'operationId' | 'heldBy' | 'underLock'>,
  refuse: (error: string, heldBy?: { by: string; since: string }) => Promise<Refusal>,
): Promise<Begun> {
  const operationId = request.operationId ?? randomUUID();
  const acquired = await acquireLock(env.name, request.operation, operationId, request.heldBy ?? who.actor);
  if (!acquired.ok) {
    const h = acquired.heldBy;
    return refuse(`a ${h.operation} of ${env.name} by ${h.by} has been running since ${h.since}`, { by: h.by, since: h.since });
  }
  const problem = await request.underLock?.(env).catch((err: unknown) => `could not check the environment's operations: ${(err as Error).message}`);
  if (problem) {
    await acquired.lock.release();
    return refuse(problem);
  }
  return { ok: true, grant: issueGrant(env, acquired.lock, operationId, who) };
}

/** The console itself, continuing recorded work whose console died. */
export const CONSOLE_ACTOR = { actor: 'console', role: null };

/**
 * Takes over an unfinished operation whose holder is gone (its lease ran out, or its process died
 * on this machine): the lock, under the operation's own id. Null while someone alive holds it; not
 * audited, since every replica asks on every sweep.
 */
export async function takeOverOperation(
  environment: string,
  request: Pick<OperationRequest, 'operation' | 'operationId' | 'heldBy'>,
): Promise<OperationGrant | null> {
  const env = awsEnvironment(environment);
  if (!env.ok) return null;
  const begun = await lockFor(env.config, CONSOLE_ACTOR, request, async (error) => ({ ok: false, error }));
  return begun.ok ? begun.grant : null;
}

export async function refuseOperation(
  who: { actor: string; role: string | null },
  action: string,
  environment: string,
  error: string,
  heldBy?: { by: string; since: string },
): Promise<Refusal> {
  await recordAuditSafely({ ...who, action, environment, outcome: 'refused', detail: error });
  return heldBy ? { ok: false, error, heldBy } : { ok: false, error };
}

/**
 * Why a new operation must wait for the environment's last rotation: until it promoted its
 * password (or was rolled back), RDS may hold a password SSM does not, and a restart or a second
 * rotation would act on the wrong one. Null when the last rotation is settled.
 */
export async function unfinishedRotation(environment: string): Promise<{ id: string; reason: string } | null> {
  const last = await latestRotation(environment);
  if (!last) return null;
  const promoted = step(last, 'promote').status === 'done';
  if (last.state === 'running' || last.state === 'rolling-back') {
    return { id: last.id, reason: `rotation ${last.id} started by ${last.startedBy} at ${last.startedAt} is ${last.state === 'running' ? 'unfinished' : 'rolling back'}` };
  }
  if (last.state === 'failed' && !promoted && last.rollbackOffered) {
    return { id: last.id, reason: `rotation ${last.id} stopped before promotion and RDS may hold its pending password; roll it back first` };
  }
  return null;
}

export function awsEnvironment(environment: string): { ok: true; config: AwsEnvironmentConfig } | { ok: false; error: string } {
  try {
    const config = getEnvironment(environment);
    if (config.kind !== 'aws') return { ok: false, error: `${environment} is a local environment; it has no RDS instance or backend fleet to act on` };
    return { ok: true, config };
  } catch (err) {
    if (err instanceof UnknownEnvironmentError) return { ok: false, error: err.message };
    throw err;
  }
}

/** Ends an operation: its outcome in the audit log (never a secret), then the lock released. */
export async function finishOperation(
  grant: OperationGrant,
  outcome: {
    action: string;
    outcome: 'success' | 'failure';
    detail: string;
    stepTimings?: Record<string, number>;
    /** Whom the entry names when not the grant's actor (a resumed rotation names the person who started it). */
    onBehalfOf?: { actor: string; role: string | null };
  },
): Promise<void> {
  const { onBehalfOf, ...entry } = outcome;
  try {
    await recordAuditSafely({ ...(onBehalfOf ?? grant.actor), environment: grant.env.name, ...entry });
  } finally {
    await grant.lock.release().catch((err) => console.error(`${outcome.action}: releasing the lock on ${grant.env.name} failed: ${(err as Error).message}`));
  }
}
