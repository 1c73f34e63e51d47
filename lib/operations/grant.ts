import 'server-only';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import type { HeldLock } from './lock';

// Proof that an operation passed its checks and holds the environment's lock. Only lib/operations
// issues one (ESLint forbids importing issueGrant from anywhere else), and the steps of a rotation
// or a redeploy run only under a genuine grant, so no path can reach them around the checks.

export interface OperationGrant {
  readonly env: AwsEnvironmentConfig;
  readonly lock: HeldLock;
  readonly operationId: string;
  /** Who the audit log names: a person (with their role) or the console's own scheduler. */
  readonly actor: { actor: string; role: string | null };
}

// Per process, not per bundle: a grant issued by an action's bundle is checked by the same process.
const issued = processWide('operations.grants', () => new WeakSet<OperationGrant>());

export function issueGrant(env: AwsEnvironmentConfig, lock: HeldLock, operationId: string, actor: { actor: string; role: string | null }): OperationGrant {
  const grant = Object.freeze({ env, lock, operationId, actor });
  issued.add(grant);
  return grant;
}

export function assertGrant(grant: OperationGrant): void {
  if (!issued.has(grant)) throw new Error('an operation may only run under a grant from lib/operations');
}
