import type { LockView, Refusal, RotationState, StepView } from '@/lib/operations/types';

// The DTOs the rotation page shows. Plain data, no secret: safe for the browser.

export type { RotationState, StepStatus, StepView } from '@/lib/operations/types';

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

/**
 * The rotation as the browser sees it: built field by field from the store's RotationRecord (so a
 * column added there never reaches the page unreviewed), with the lock and what the viewer may do.
 */
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
  lock: LockView | null;
}

export type StartRotationResult = { ok: true; rotationId: string } | Refusal;

export type RollbackRotationResult = { ok: true; rotationId: string } | Refusal;
