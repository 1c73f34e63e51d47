import 'server-only';
import { randomUUID } from 'node:crypto';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { getStore } from '@/lib/audit/store';
import { AuthorizationError, hasRole, type Caller } from '@/lib/auth/caller';
import { getEnvironment, UnknownEnvironmentError } from '@/lib/config/load';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { acquireLock, currentLock, type HeldLock } from '@/lib/rotation/lock';
import { latestRotation, step } from '@/lib/rotation/record';
import { runRollout, type RolloutTimings } from './rollout';
import { IMAGE_TAG_PATTERN, type InstanceRestartView, type RedeployState, type RedeployView, type StartRedeployResult } from './types';

// "Restart containers": a rolling redeploy started by an operator, optionally onto a new image tag.
// The action returns at once; the rollout runs in this process and writes its progress to the store.

export type { RedeployView, StartRedeployResult, InstanceRestartView } from './types';
export { IMAGE_TAG_PATTERN } from './types';

export async function startRedeploy(
  caller: Caller | null,
  environment: string,
  input: { confirmEnvironment: string; imageTag?: string },
): Promise<StartRedeployResult> {
  const action = 'redeploy.start';
  const who = auditActor(caller);
  const refuse = async (error: string, heldBy?: { by: string; since: string }): Promise<StartRedeployResult> => {
    await recordAuditSafely({ ...who, action, environment, outcome: 'refused', detail: error });
    return heldBy ? { ok: false, error, heldBy } : { ok: false, error };
  };

  if (!hasRole(caller, 'operator')) {
    return refuse(who.role ? `${who.actor} is ${who.role}; restarting containers needs operator` : 'sign in first');
  }
  const env = awsEnvironment(environment);
  if (!env.ok) return refuse(env.error);
  if (input.confirmEnvironment !== environment) return refuse('the typed confirmation does not match the environment name');
  const imageTag = input.imageTag === undefined || input.imageTag === '' ? null : input.imageTag;
  if (imageTag !== null && !IMAGE_TAG_PATTERN.test(imageTag)) {
    return refuse('the image tag must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit');
  }

  // Containers restarted now would read a db-password that RDS may no longer accept.
  const rotation = await latestRotation(environment);
  if (rotation?.state === 'failed' && rotation.rollbackOffered && step(rotation, 'promote').status !== 'done') {
    return refuse(`rotation ${rotation.id} stopped before promotion and RDS may hold its pending password; roll it back before restarting containers`);
  }

  const id = randomUUID();
  const acquired = await acquireLock(environment, 'redeploy', id, caller.id);
  if (!acquired.ok) {
    const h = acquired.heldBy;
    return refuse(`a ${h.operation} of ${environment} by ${h.by} has been running since ${h.since}`, { by: h.by, since: h.since });
  }
  await createRedeployRecord({ id, environment, by: caller.id, role: caller.role, reason: 'operator', imageTag });
  await recordAuditSafely({ ...who, action, environment, outcome: 'success', detail: imageTag ? `image tag ${imageTag}` : 'same image' });
  void runOperatorRedeploy(env.config, id, acquired.lock, who, imageTag);
  return { ok: true, redeployId: id };
}

async function runOperatorRedeploy(
  env: AwsEnvironmentConfig,
  id: string,
  lock: HeldLock,
  who: { actor: string; role: string | null },
  imageTag: string | null,
): Promise<void> {
  lock.startRenewing();
  const started = Date.now();
  try {
    const result = await runRollout(env, { redeployId: id, imageTag, shouldStop: () => lock.lost });
    await recordAuditSafely({
      ...who,
      action: 'redeploy',
      environment: env.name,
      outcome: result.ok ? 'success' : 'failure',
      detail: result.ok ? `restarted ${result.instances.length} instance(s)${imageTag ? ` on image tag ${imageTag}` : ''}` : result.error,
      stepTimings: instanceTimings(result.instances, started),
    });
  } catch (err) {
    await markRedeploy(id, 'failed', `the redeploy stopped unexpectedly: ${(err as Error).message}`);
    await recordAuditSafely({ ...who, action: 'redeploy', environment: env.name, outcome: 'failure', detail: (err as Error).message });
  } finally {
    await lock.release().catch((err) => console.error(`redeploy: releasing the lock on ${env.name} failed: ${(err as Error).message}`));
  }
}

/** The latest redeploy of the environment (started by an operator or by a rotation). */
export async function getRedeploy(caller: Caller | null, environment: string): Promise<RedeployView | null> {
  if (!hasRole(caller, 'viewer')) throw new AuthorizationError('viewer', caller ?? null);
  const store = await getStore();
  const row = await store.db
    .selectFrom('redeploys')
    .selectAll()
    .where('environment', '=', environment)
    .orderBy('started_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!row) return null;
  let state = row.state as RedeployState;
  let error = row.error;
  if (state === 'running') {
    // A console that crashed mid-rollout leaves "running" behind; without a live lock holder it is not running.
    const lock = await currentLock(environment);
    if (!lock?.holderAlive) {
      state = 'failed';
      error = 'the console running this redeploy stopped before it finished; start it again';
    }
  }
  return {
    id: row.id,
    environment: row.environment,
    state,
    by: row.started_by,
    role: row.role,
    reason: row.reason,
    imageTag: row.image_tag,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    error,
    instances: JSON.parse(row.instances) as InstanceRestartView[],
  };
}

export async function createRedeployRecord(r: { id: string; environment: string; by: string; role: string | null; reason: string; imageTag: string | null }): Promise<void> {
  const store = await getStore();
  const now = new Date().toISOString();
  await store.db
    .insertInto('redeploys')
    .values({
      id: r.id,
      environment: r.environment,
      state: 'running',
      started_by: r.by,
      role: r.role,
      started_at: now,
      updated_at: now,
      finished_at: null,
      error: null,
      image_tag: r.imageTag,
      reason: r.reason,
      instances: '[]',
    })
    .execute();
}

async function markRedeploy(id: string, state: RedeployState, error: string | null): Promise<void> {
  const store = await getStore();
  const now = new Date().toISOString();
  await store.db.updateTable('redeploys').set({ state, error, updated_at: now, finished_at: now }).where('id', '=', id).execute();
}

export function instanceTimings(instances: InstanceRestartView[], fallbackStart: number): Record<string, number> {
  const timings: Record<string, number> = {};
  for (const i of instances) {
    if (!i.startedAt) continue;
    const end = i.finishedAt ? Date.parse(i.finishedAt) : Date.now();
    timings[i.instanceId] = Math.max(0, end - Date.parse(i.startedAt));
  }
  timings.total = Date.now() - fallbackStart;
  return timings;
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

export type { RolloutTimings };
