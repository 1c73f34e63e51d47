import type { CheckFix, CheckId, CheckStatus, Evidence } from '@/lib/checks/types';

// A runbook is the seed's troubleshooting checklist as data: ordered steps, each either a status
// check (called, never re-implemented) or a step only a runbook needs. Safe to import from client
// components: no AWS, no secrets, only ids, words and DTO shapes.

export const RUNBOOK_IDS = ['local-connection-refused', 'could-not-connect', 'authentication-failed', 'container-unhealthy'] as const;
export type RunbookId = (typeof RUNBOOK_IDS)[number];

export function isRunbookId(value: string): value is RunbookId {
  return (RUNBOOK_IDS as readonly string[]).includes(value);
}

/** Steps the status engine has no check for; each answers one line of the seed's checklists. */
export const RUNBOOK_STEP_IDS = [
  'local.url-format',
  'local.env-override',
  'local.listening',
  'local.compose-db',
  'backend.tcp',
  'backend.role-permissions',
  'backend.agent-online',
  'backend.restart-count',
  'backend.login-path',
  'rotation.pending',
] as const;
export type RunbookOnlyStepId = (typeof RUNBOOK_STEP_IDS)[number];

export type StepId = CheckId | RunbookOnlyStepId;

export interface StepDefinition {
  id: StepId;
  /** The question the step answers, as an operator would ask it. */
  title: string;
  /** What a failure of this step means for LinkBox. */
  meaning: string;
}

export interface RunbookDefinition {
  id: RunbookId;
  /** The heading in the seed, e.g. `Production: "Could not connect to server"`. */
  title: string;
  kind: 'aws' | 'local';
  /** When to open it, in one line. */
  symptom: string;
  steps: StepDefinition[];
}

/** One step as it ran: the same vocabulary as a status check, plus what it means. */
export interface StepResult {
  id: StepId;
  title: string;
  /** The status check this step is, or the one its failure is reported as in a diagnosis. */
  check: CheckId;
  /** True when the step is a status check rather than a runbook-only step. */
  isStatusCheck: boolean;
  status: CheckStatus;
  summary: string;
  evidence: Evidence;
  meaning: string;
  fix?: CheckFix;
  durationMs?: number;
}

export interface RunbookRun {
  environment: string;
  runbook: RunbookId;
  title: string;
  symptom: string;
  /** The first step that fails, in the runbook's order; null when none does. */
  firstFailingStep: StepId | null;
  /** ISO time of the oldest data shown (status checks may come from the cache). */
  checkedAt: string;
  steps: StepResult[];
}

/** A step of a diagnosis, with the runbooks that contain it. */
export type DiagnosedStep = StepResult & { runbooks: RunbookId[] };

/** A step that has not answered yet: what it asks, not what it found. */
export interface PendingStep {
  id: StepId;
  title: string;
  check: CheckId;
  runbooks: RunbookId[];
}

export interface Diagnosis {
  environment: string;
  /** The first failing check in dependency order (a DESIGN.md check id), or null when none fails. */
  rootCause: CheckId | null;
  /** The step that failed first, which may be a runbook-only step reported as `rootCause`. */
  rootCauseStep: StepId | null;
  /** The runbook to open for the root cause; null when healthy. */
  runbook: RunbookId | null;
  /**
   * Checks the console could not run (status `error`: throttled, denied, timed out). They are
   * never a root cause, but a diagnosis with no root cause and something here is "unknown", not healthy.
   */
  couldNotCheck: StepId[];
  verdict: 'healthy' | 'broken' | 'unknown';
  checkedAt: string;
  /**
   * False when the answer came as soon as the root cause was certain (a failing step whose every
   * step earlier in dependency order answered without failing), before every step had answered.
   */
  complete: boolean;
  /** Every runbook's steps that have answered, each once, in dependency order. */
  steps: DiagnosedStep[];
  /** The steps still running when the answer was given, in dependency order (empty when complete). */
  pending: PendingStep[];
  /** Set when a fresh diagnosis was asked for too soon after the caller's last one: this is the latest, as of `checkedAt`. */
  freshLimited?: { retryInSeconds: number };
}
