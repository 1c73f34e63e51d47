import type { InstanceRestartView, LockView, Refusal, RedeployState } from '@/lib/operations/types';

// The DTOs the redeploy page shows. Plain data, no secret: safe for the browser.

export type { InstanceRestartView, RedeployState } from '@/lib/operations/types';
export { IMAGE_TAG_PATTERN } from '@/lib/config/schema';

/** Built field by field from the store's RedeployRecord (a new column never reaches the page unreviewed), with the lock. */
export interface RedeployView {
  id: string;
  environment: string;
  state: RedeployState;
  by: string;
  role: string | null;
  /** "operator" when started from the redeploy page, "rotation <id>" when a rotation restarted the containers. */
  reason: string;
  imageTag: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Names the instance and the reason when the rollout stopped. */
  error: string | null;
  instances: InstanceRestartView[];
  /** Who holds the environment's lock right now: this redeploy, a rotation, or nobody. */
  lock: LockView | null;
}

export type StartRedeployResult = { ok: true; redeployId: string } | Refusal;
