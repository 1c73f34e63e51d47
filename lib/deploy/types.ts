// The DTOs the redeploy page shows. Plain data, no secret: safe for the browser.

export type InstanceRestartStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface InstanceRestartView {
  instanceId: string;
  name: string | null;
  status: InstanceRestartStatus;
  /** Where this instance is: "sending the restart command", "waiting for /health", ... */
  phase: string | null;
  commandId: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** Why it failed, or what was seen (e.g. "/health answered 200 after 3 s"). */
  detail: string | null;
}

export type RedeployState = 'running' | 'completed' | 'failed';

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
}

export type StartRedeployResult = { ok: true; redeployId: string } | { ok: false; error: string; heldBy?: { by: string; since: string } };

/** A Docker image tag as the deploy accepts it; anything else never reaches a command line. */
export const IMAGE_TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
