import 'server-only';
import {
  assertGrant,
  beginOperation,
  finishOperation,
  insertRedeploy,
  instanceTimings,
  latestRedeploy,
  liveLock,
  runRollout,
  saveRedeploy,
  unfinishedRotation,
  type OperationGrant,
} from '@/lib/operations';
import { assertRole, type Caller } from '@/lib/roles';
import { IMAGE_TAG_PATTERN, type RedeployView, type StartRedeployResult } from './types';

// "Restart containers": a rolling redeploy started by an operator, optionally onto a new image tag.
// The action returns at once; the rollout (lib/operations) runs in this process and writes its
// progress to the store, so any replica can show it.

export type { RedeployView, StartRedeployResult, InstanceRestartView } from './types';
export { IMAGE_TAG_PATTERN } from './types';

export async function startRedeploy(caller: Caller | null, environment: string, input: { confirmEnvironment: string; imageTag?: string }): Promise<StartRedeployResult> {
  const imageTag = input.imageTag === undefined || input.imageTag === '' ? null : input.imageTag;
  const begun = await beginOperation(caller, environment, {
    action: 'redeploy.start',
    operation: 'redeploy',
    what: 'restarting containers',
    confirmEnvironment: input.confirmEnvironment,
    validate: () =>
      imageTag !== null && !IMAGE_TAG_PATTERN.test(imageTag) ? 'the image tag must be 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit' : null,
    async underLock() {
      // Containers restarted now would read a db-password that RDS may no longer accept.
      const stuck = await unfinishedRotation(environment);
      return stuck ? `${stuck.reason}; finish or roll it back on /environments/${environment}/rotate before restarting containers` : null;
    },
  });
  if (!begun.ok) return begun;
  const { grant } = begun;
  await insertRedeploy({ id: grant.operationId, environment, by: grant.actor.actor, role: grant.actor.role, reason: 'operator', imageTag });
  void runRedeploy(grant, imageTag);
  return { ok: true, redeployId: grant.operationId };
}

async function runRedeploy(grant: OperationGrant, imageTag: string | null): Promise<void> {
  assertGrant(grant);
  grant.lock.startRenewing();
  const started = Date.now();
  try {
    const result = await runRollout(grant.env, { redeployId: grant.operationId, imageTag, shouldStop: () => grant.lock.lost });
    await finishOperation(grant, {
      action: 'redeploy',
      outcome: result.ok ? 'success' : 'failure',
      detail: result.ok ? `restarted ${result.instances.length} instance(s)${imageTag ? ` on image tag ${imageTag}` : ''}` : result.error,
      stepTimings: instanceTimings(result.instances, started),
    });
  } catch (err) {
    const detail = `the redeploy stopped unexpectedly: ${(err as Error).name}`;
    await saveRedeploy(grant.operationId, 'failed', { error: detail }).catch(() => {});
    await finishOperation(grant, { action: 'redeploy', outcome: 'failure', detail });
  }
}

/** The latest redeploy of the environment (started by an operator or by a rotation). */
export async function getRedeploy(caller: Caller | null, environment: string): Promise<RedeployView | null> {
  assertRole(caller, 'viewer');
  const [record, lock] = await Promise.all([latestRedeploy(environment), liveLock(environment)]);
  if (!record) return null;
  let { state, error } = record;
  // A console that crashed mid-rollout leaves "running" behind; without a live lock holder it is not running.
  if (state === 'running' && !lock) {
    state = 'failed';
    error = 'the console running this redeploy stopped before it finished; start it again';
  }
  return {
    id: record.id,
    environment: record.environment,
    state,
    by: record.startedBy,
    role: record.role,
    reason: record.reason,
    imageTag: record.imageTag,
    startedAt: record.startedAt,
    updatedAt: record.updatedAt,
    finishedAt: record.finishedAt,
    error,
    instances: record.instances,
    lock,
  };
}
