// The DTOs the rotation page shows. Plain data, no secret: safe for the browser.

export type StepStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export const ROTATION_STEPS = [
  { name: 'preflight', label: 'Check that the database can be rotated' },
  { name: 'generate', label: 'Generate a new password' },
  { name: 'store-pending', label: 'Store it as the pending password in SSM' },
  { name: 'modify-db', label: 'Set it as the RDS master password' },
  { name: 'wait-available', label: 'Wait for RDS to apply it' },
  { name: 'test-login', label: 'Log in with the new password' },
  { name: 'promote', label: 'Make it the current password in SSM' },
  { name: 'remove-pending', label: 'Remove the pending password' },
  { name: 'restart', label: 'Restart the backend containers one at a time' },
] as const;

export const ROLLBACK_STEPS = [
  { name: 'rollback-modify-db', label: 'Set RDS back to the current SSM password' },
  { name: 'rollback-wait', label: 'Wait for RDS to apply it' },
  { name: 'rollback-test-login', label: 'Log in with the current password' },
  { name: 'rollback-remove-pending', label: 'Remove the pending password' },
] as const;

export type RotationStepName = (typeof ROTATION_STEPS)[number]['name'];
export type RollbackStepName = (typeof ROLLBACK_STEPS)[number]['name'];

export interface StepView<Name extends string = RotationStepName | RollbackStepName> {
  name: Name;
  label: string;
  status: StepStatus;
  startedAt: string | null;
  finishedAt: string | null;
  /** What the step found or did, in the operator's words. Never a secret. */
  detail: string | null;
}

/**
 * running: steps are being carried out (or will resume when a console starts);
 * completed: every step done; failed: stopped, see `error` and `canRollBack`;
 * rolling-back / rolled-back: RDS is being / was set back to the current SSM password.
 */
export type RotationState = 'running' | 'completed' | 'failed' | 'rolling-back' | 'rolled-back';

export interface RotationView {
  id: string;
  environment: string;
  state: RotationState;
  by: string;
  role: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  steps: StepView[];
  /** Rollback is possible until the new password is promoted, and only when nobody is working on it. */
  canRollBack: boolean;
  /** Who holds the environment's lock right now (this rotation, a redeploy, or nobody). */
  lock: { by: string; since: string; operation: 'rotation' | 'redeploy' } | null;
}

export type StartRotationResult = { ok: true; rotationId: string } | { ok: false; error: string; heldBy?: { by: string; since: string } };

export type RollbackRotationResult = { ok: true; rotationId: string } | { ok: false; error: string; heldBy?: { by: string; since: string } };
