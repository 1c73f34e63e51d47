import 'server-only';
import type { AwsCheckContext, CheckContext, LocalCheckContext } from '@/lib/checks/context';
import { runChecks, type CheckDefinition, type CheckRun } from '@/lib/checks/run';
import { CHECK_IDS, type CheckId, type CheckResult, type EnvironmentStatus } from '@/lib/checks/types';
import { getEnvironment } from '@/lib/config/load';
import type { EnvironmentConfig } from '@/lib/config/schema';
import { assertRole, type Caller } from '@/lib/roles';
import { openStatusRun, type StatusRun } from '@/lib/status';
import { authenticationFailed } from './authentication-failed';
import { containerUnhealthy } from './container-unhealthy';
import { couldNotConnect } from './could-not-connect';
import { localConnectionRefused } from './local-connection-refused';
import { BACKEND_STEPS } from './steps/backend';
import { LOCAL_STEPS } from './steps/local';
import { loginPathStep } from './steps/login-path';
import { rotationPendingStep } from './steps/rotation';
import { RUNBOOK_IDS, type RunbookDefinition, type RunbookId, type RunbookOnlyStepId, type RunbookRun, type StepDefinition, type StepId, type StepResult } from './types';

// Runs the seed's checklists against an environment. Steps that are status checks come from the
// status run (same cache, same verdicts); runbook-only steps run with the same runner, on the same
// readers, right beside it. Every entry point checks the caller's role itself. To add a runbook
// step: its definition in steps/, its id in types.ts, its place in RUNBOOK_ONLY_STEPS below, and
// its line in the runbooks that use it.

export const RUNBOOKS: Record<RunbookId, RunbookDefinition> = {
  'local-connection-refused': localConnectionRefused,
  'could-not-connect': couldNotConnect,
  'authentication-failed': authenticationFailed,
  'container-unhealthy': containerUnhealthy,
};

export class UnknownRunbookError extends Error {
  constructor(
    readonly runbook: string,
    readonly environment: string,
  ) {
    super(`no runbook "${runbook}" for environment "${environment}"`);
    this.name = 'UnknownRunbookError';
  }
}

type RunbookStepDefinition = CheckDefinition<AwsCheckContext, RunbookOnlyStepId> | CheckDefinition<LocalCheckContext, RunbookOnlyStepId>;

export const RUNBOOK_STEP_DEFINITIONS = new Map<RunbookOnlyStepId, RunbookStepDefinition>([...BACKEND_STEPS, loginPathStep, rotationPendingStep, ...LOCAL_STEPS].map((d) => [d.id, d]));

/**
 * Each runbook-only step: the check its failure is reported as in a diagnosis, and its place in the
 * diagnosis order, before or after that check (or after `beside`, when it belongs next to another).
 * Local steps sit before local.database-url (they say why it fails); the backend steps after the
 * check they refine.
 */
export const RUNBOOK_ONLY_STEPS: Record<RunbookOnlyStepId, { check: CheckId; placement: 'before' | 'after'; beside?: CheckId }> = {
  'local.url-format': { check: 'local.database-url', placement: 'before' },
  'local.env-override': { check: 'local.database-url', placement: 'before' },
  'local.listening': { check: 'local.database-url', placement: 'before' },
  'local.compose-db': { check: 'local.database-url', placement: 'before' },
  'backend.tcp': { check: 'net.tcp', placement: 'after' },
  // The role is read when a container starts (start_application.sh), so its step sits with the
  // containers: its proof is the diagnosis's longest chain (instance, profile, simulation), and a
  // network or database cause ahead of it must not wait for it to be certain.
  'backend.role-permissions': { check: 'ssm.parameters', placement: 'before', beside: 'containers.running' },
  'backend.agent-online': { check: 'containers.running', placement: 'after' },
  'backend.restart-count': { check: 'containers.running', placement: 'after' },
  // Names what differs when the console logs in and a backend does not; fails as the symptom only when no check explains it.
  'backend.login-path': { check: 'containers.health', placement: 'before' },
  'rotation.pending': { check: 'db.login', placement: 'after' },
};

export function isCheckId(id: string): id is CheckId {
  return (CHECK_IDS as readonly string[]).includes(id);
}

/** The runbooks that apply to an environment, in the seed's order. */
export function runbooksFor(kind: EnvironmentConfig['kind']): RunbookDefinition[] {
  return RUNBOOK_IDS.map((id) => RUNBOOKS[id]).filter((r) => r.kind === kind);
}

/** The runbook to open for a failing step: the first (in the seed's order) that contains it. */
export function runbookForStep(step: StepId, kind: EnvironmentConfig['kind']): RunbookId | null {
  return runbooksFor(kind).find((r) => r.steps.some((s) => s.id === step))?.id ?? null;
}

export function checkOfStep(step: StepId): CheckId {
  return isCheckId(step) ? step : RUNBOOK_ONLY_STEPS[step].check;
}

export interface RunOptions {
  /** Bypass the cache (`?fresh=1`); still joins a fetch already in flight. */
  fresh?: boolean;
}

/** One run of some runbooks' steps: the status run they reuse, and the runbook-only steps beside it. */
export class StepSession {
  private constructor(
    readonly env: EnvironmentConfig,
    readonly statusRun: StatusRun,
    private readonly steps: CheckRun<RunbookOnlyStepId>,
  ) {}

  /** Starts the runbook-only steps among `needed` at once, next to the environment's status run. */
  static open(caller: Caller | null, environment: string, needed: readonly StepDefinition[], opts: RunOptions = {}): StepSession {
    assertRole(caller, 'viewer');
    const env = getEnvironment(environment);
    const own = new Set(needed.map((s) => s.id).filter((id): id is RunbookOnlyStepId => !isCheckId(id)));
    const statusRun = openStatusRun(caller, environment, { fresh: opts.fresh, probeBackendTcp: own.has('backend.tcp') });
    const definitions = [...own].map((id) => RUNBOOK_STEP_DEFINITIONS.get(id)!) as CheckDefinition<CheckContext, RunbookOnlyStepId>[];
    // A step may read status results (`reads`); it then starts once they have settled.
    const steps = runChecks(definitions, statusRun.ctx, { dependencies: () => [], given: statusRun.results });
    return new StepSession(env, statusRun, steps);
  }

  status(): Promise<EnvironmentStatus> {
    return this.statusRun.status;
  }

  /** When the status run the steps read started (or the cached status's time). */
  get checkedAt(): string {
    return this.statusRun.checkedAt;
  }

  async result(step: StepDefinition): Promise<StepResult> {
    const base = { title: step.title, meaning: step.meaning };
    if (isCheckId(step.id)) {
      const check = await this.statusRun.results.get(step.id);
      return { ...base, ...fromCheck(step.id, check), check: step.id, isStatusCheck: true };
    }
    const running = this.steps.results.get(step.id);
    const outcome: CheckResult<RunbookOnlyStepId> = running
      ? await running
      : { id: step.id, status: 'skip', summary: `Not a step for a ${this.env.kind} environment`, evidence: {} };
    return { ...base, ...outcome, check: RUNBOOK_ONLY_STEPS[step.id].check, isStatusCheck: false };
  }
}

function fromCheck(id: CheckId, check: CheckResult | undefined): CheckResult {
  return check ?? { id, status: 'error', summary: 'Could not check: the status engine gave no result for this check', evidence: {} };
}

/** Looks a runbook up for an environment; unknown, or made for the other kind of environment, is an error (404). */
export function runbookDefinition(environment: EnvironmentConfig, id: string): RunbookDefinition {
  const def = (RUNBOOK_IDS as readonly string[]).includes(id) ? RUNBOOKS[id as RunbookId] : undefined;
  if (!def || def.kind !== environment.kind) throw new UnknownRunbookError(id, environment.name);
  return def;
}

export async function runRunbookIn(session: StepSession, def: RunbookDefinition): Promise<RunbookRun> {
  const [steps, status] = await Promise.all([Promise.all(def.steps.map((s) => session.result(s))), session.status()]);
  return {
    environment: session.env.name,
    runbook: def.id,
    title: def.title,
    symptom: def.symptom,
    firstFailingStep: steps.find((s) => s.status === 'fail')?.id ?? null,
    checkedAt: status.checkedAt,
    steps,
  };
}

/** Runs one runbook for an environment, for anyone who may read it (viewer and up). */
export async function runRunbook(caller: Caller | null, environment: string, runbook: string, opts: RunOptions = {}): Promise<RunbookRun> {
  assertRole(caller, 'viewer');
  const def = runbookDefinition(getEnvironment(environment), runbook);
  return runRunbookIn(StepSession.open(caller, environment, def.steps, opts), def);
}

/** Runs several runbooks sharing one status and one run of each runbook-only step (triage). */
export async function runRunbooks(caller: Caller | null, environment: string, runbooks: RunbookId[], opts: RunOptions = {}): Promise<RunbookRun[]> {
  assertRole(caller, 'viewer');
  const env = getEnvironment(environment);
  const defs = runbooks.map((id) => runbookDefinition(env, id));
  const session = StepSession.open(caller, environment, defs.flatMap((d) => d.steps), opts);
  return Promise.all(defs.map((d) => runRunbookIn(session, d)));
}

export { RUNBOOK_IDS, isRunbookId } from './types';
export type { DiagnosedStep, Diagnosis, PendingStep, RunbookDefinition, RunbookId, RunbookRun, StepId, StepResult } from './types';
