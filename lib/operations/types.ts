// The shapes of the console's dangerous operations as the store keeps them and the pages show them:
// plain data, no secret, safe for the browser.

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface StepView<Name extends string = string> {
  name: Name;
  label: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  /** What the step found or did, in the operator's words. Never a secret. */
  detail: string | null;
}

/**
 * running: steps are being carried out (or will resume when a console takes it over);
 * completed: every step done; failed: stopped, see `error` and `canRollBack`;
 * rolling-back / rolled-back: RDS is being / was set back to the current SSM password.
 */
export type RotationState = 'running' | 'completed' | 'failed' | 'rolling-back' | 'rolled-back';

export type RedeployState = 'running' | 'completed' | 'failed';

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

export type LockedOperation = 'rotation' | 'redeploy';

/** Who holds an environment's lock right now, as a page shows it. */
export interface LockView {
  by: string;
  since: string;
  operation: LockedOperation;
}

/** What a refused start returns: the reason, and who holds the lock when that is the reason. */
export type Refusal = { ok: false; error: string; heldBy?: { by: string; since: string } };
