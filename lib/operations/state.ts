import 'server-only';
import { assertRole, type Caller } from '@/lib/roles';
import { unfinishedRotation } from './begin';
import { currentLock } from './lock';
import { abandonRedeploy, runningRedeploys } from './records';
import type { LockView } from './types';

// What a page about a dangerous operation shows before any form: who holds the environment now,
// and whether a stuck rotation keeps every new operation out.

export interface OperationState {
  /** The live holder of the environment's lock, or null. */
  lock: LockView | null;
  /** A rotation that did not finish (or stopped before promotion): nothing new may start until it is resumed or rolled back. */
  unfinishedRotation: { id: string; reason: string } | null;
}

export async function getOperationState(caller: Caller | null, environment: string): Promise<OperationState> {
  assertRole(caller, 'viewer');
  const [lock, unfinished] = await Promise.all([liveLock(environment), unfinishedRotation(environment)]);
  return { lock, unfinishedRotation: unfinished };
}

/** The lock as a page shows it, when its holder is alive. */
export async function liveLock(environment: string): Promise<LockView | null> {
  const lock = await currentLock(environment);
  return lock?.holderAlive ? { by: lock.by, since: lock.since, operation: lock.operation } : null;
}

/** A redeploy left "running" by a dead console is closed as failed, so the page stops showing it as live. */
export async function closeAbandonedRedeploys(): Promise<void> {
  for (const row of await runningRedeploys()) {
    if (row.reason !== 'operator') continue; // a rotation's restart is redone by the rotation itself
    const lock = await currentLock(row.environment);
    if (lock?.holderAlive && lock.operationId === row.id) continue;
    await abandonRedeploy(row.id, 'the console running this redeploy stopped before it finished; start it again');
  }
}
