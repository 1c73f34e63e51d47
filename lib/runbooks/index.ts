import 'server-only';
import { cached } from '@/lib/aws/cache';
import { assertRole, type Caller } from '@/lib/auth/caller';
import { createAwsContext, createLocalContext, type AwsCheckContext, type LocalCheckContext } from '@/lib/checks/context';
import { CHECK_IDS, type CheckId, type CheckResult, type EnvironmentStatus } from '@/lib/checks/types';
import { getConfig, getEnvironment } from '@/lib/config/load';
import type { AwsEnvironmentConfig, EnvironmentConfig } from '@/lib/config/schema';
import { getEnvironmentStatus } from '@/lib/status';
import { authenticationFailed } from './authentication-failed';
import { containerUnhealthy } from './container-unhealthy';
import { couldNotConnect } from './could-not-connect';
import { localConnectionRefused } from './local-connection-refused';
import {
  backendAgentOnlineStep,
  backendRestartCountStep,
  backendRolePermissionsStep,
  backendTcpStep,
} from './steps/backend';
import { runWithinBudget, type StepOutcome, type StepRunner } from './steps/context';
import { localComposeDbStep, localEnvOverrideStep, localListeningStep, localUrlFormatStep } from './steps/local';
import { rotationPendingStep } from './steps/rotation';
import { RUNBOOK_IDS, type RunbookDefinition, type RunbookId, type RunbookOnlyStepId, type RunbookRun, type StepDefinition, type StepId, type StepResult } from './types';

// Runs the seed's checklists against an environment. Steps that are status checks come from the
// status engine (same cache, same verdicts); runbook-only steps run here, each within the check
// budget. Every entry point checks the caller's role itself.

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

type RunbookOnlyStep =
  | { kind: 'aws'; check: CheckId; placement: 'after'; run: StepRunner<AwsCheckContext> }
  | { kind: 'local'; check: CheckId; placement: 'before'; run: StepRunner<LocalCheckContext> };

/**
 * Each runbook-only step and the check its failure is reported as in a diagnosis. Local steps sit
 * before local.database-url (they say why it fails); the backend steps after the check they refine.
 */
export const RUNBOOK_ONLY_STEPS: Record<RunbookOnlyStepId, RunbookOnlyStep> = {
  'local.url-format': { kind: 'local', check: 'local.database-url', placement: 'before', run: localUrlFormatStep },
  'local.env-override': { kind: 'local', check: 'local.database-url', placement: 'before', run: localEnvOverrideStep },
  'local.listening': { kind: 'local', check: 'local.database-url', placement: 'before', run: localListeningStep },
  'local.compose-db': { kind: 'local', check: 'local.database-url', placement: 'before', run: localComposeDbStep },
  'backend.tcp': { kind: 'aws', check: 'net.tcp', placement: 'after', run: backendTcpStep },
  'backend.role-permissions': { kind: 'aws', check: 'ssm.parameters', placement: 'after', run: backendRolePermissionsStep },
  'backend.agent-online': { kind: 'aws', check: 'containers.running', placement: 'after', run: backendAgentOnlineStep },
  'backend.restart-count': { kind: 'aws', check: 'containers.running', placement: 'after', run: backendRestartCountStep },
  'rotation.pending': { kind: 'aws', check: 'db.login', placement: 'after', run: rotationPendingStep },
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

/** One run's shared state: the status, the readers, and each runbook-only step run at most once. */
export class StepSession {
  private readonly runs = new Map<RunbookOnlyStepId, Promise<StepOutcome & { durationMs: number }>>();
  private readonly reads: AwsCheckContext | LocalCheckContext;

  constructor(
    readonly env: EnvironmentConfig,
    readonly status: EnvironmentStatus,
    private readonly fresh: boolean,
  ) {
    const config = getConfig();
    this.reads =
      env.kind === 'aws'
        ? sharedAwsReads(env, config.checkTimeoutMs, fresh, config.cacheTtlSeconds * 1000)
        : createLocalContext(env, config.checkTimeoutMs, fresh);
  }

  async result(step: StepDefinition): Promise<StepResult> {
    if (isCheckId(step.id)) return fromCheck(step, this.status.checks.find((c) => c.id === step.id));
    const id = step.id;
    const def = RUNBOOK_ONLY_STEPS[id];
    let running = this.runs.get(id);
    if (!running) {
      running = this.start(def);
      this.runs.set(id, running);
    }
    const outcome = await running;
    return { id, title: step.title, check: def.check, isStatusCheck: false, meaning: step.meaning, ...outcome };
  }

  private start(def: RunbookOnlyStep): Promise<StepOutcome & { durationMs: number }> {
    const config = getConfig();
    const base = { fresh: this.fresh, ttlMs: config.cacheTtlSeconds * 1000, budgetMs: config.checkTimeoutMs };
    if (def.kind === 'aws' && this.reads.kind === 'aws') return runWithinBudget(def.run, { ...base, env: this.reads.env, reads: this.reads });
    if (def.kind === 'local' && this.reads.kind === 'local') return runWithinBudget(def.run, { ...base, env: this.reads.env, reads: this.reads });
    return Promise.resolve({ status: 'skip', summary: `Not a step for a ${this.env.kind} environment`, evidence: {}, durationMs: 0 });
  }
}

/**
 * The status engine's readers, with the plain Describe/Get reads kept in the shared cache for the
 * TTL, so a diagnosis opened again within it repeats no AWS call. Assigned onto the context itself
 * because its container reader calls `backendInstances()` through it.
 */
function sharedAwsReads(env: AwsEnvironmentConfig, budgetMs: number, fresh: boolean, ttlMs: number): AwsCheckContext {
  const reads = createAwsContext(env, budgetMs, fresh);
  const share = <T>(what: string, load: () => Promise<T>) => {
    let value: Promise<T> | undefined;
    return () => (value ??= cached(`runbooks:${env.name}:${what}`, ttlMs, load, { fresh }).then((c) => c.value));
  };
  reads.parameters = share('parameters', reads.parameters);
  reads.dbInstance = share('db-instance', reads.dbInstance);
  reads.backendInstances = share('backend-instances', reads.backendInstances);
  return reads;
}

function fromCheck(step: StepDefinition, check: CheckResult | undefined): StepResult {
  const id = step.id as CheckId;
  if (!check) {
    return {
      id,
      title: step.title,
      check: id,
      isStatusCheck: true,
      meaning: step.meaning,
      status: 'error',
      summary: 'Could not check: the status engine gave no result for this check',
      evidence: {},
    };
  }
  return {
    id,
    title: step.title,
    check: id,
    isStatusCheck: true,
    meaning: step.meaning,
    status: check.status,
    summary: check.summary,
    evidence: check.evidence,
    fix: check.fix,
    durationMs: check.durationMs,
  };
}

export async function openStepSession(caller: Caller | null, environment: string, opts: RunOptions = {}): Promise<StepSession> {
  assertRole(caller, 'viewer');
  const env = getEnvironment(environment);
  const status = await getEnvironmentStatus(caller, environment, { fresh: opts.fresh });
  return new StepSession(env, status, opts.fresh ?? false);
}

/** Looks a runbook up for an environment; unknown, or made for the other kind of environment, is an error (404). */
export function runbookDefinition(environment: EnvironmentConfig, id: string): RunbookDefinition {
  const def = (RUNBOOK_IDS as readonly string[]).includes(id) ? RUNBOOKS[id as RunbookId] : undefined;
  if (!def || def.kind !== environment.kind) throw new UnknownRunbookError(id, environment.name);
  return def;
}

export async function runRunbookIn(session: StepSession, def: RunbookDefinition): Promise<RunbookRun> {
  const steps = await Promise.all(def.steps.map((s) => session.result(s)));
  return {
    environment: session.env.name,
    runbook: def.id,
    title: def.title,
    symptom: def.symptom,
    firstFailingStep: steps.find((s) => s.status === 'fail')?.id ?? null,
    checkedAt: session.status.checkedAt,
    steps,
  };
}

/** Runs one runbook for an environment, for anyone who may read it (viewer and up). */
export async function runRunbook(caller: Caller | null, environment: string, runbook: string, opts: RunOptions = {}): Promise<RunbookRun> {
  assertRole(caller, 'viewer');
  const def = runbookDefinition(getEnvironment(environment), runbook);
  const session = await openStepSession(caller, environment, opts);
  return runRunbookIn(session, def);
}

/** Runs several runbooks sharing one status and one run of each runbook-only step (triage). */
export async function runRunbooks(caller: Caller | null, environment: string, runbooks: RunbookId[], opts: RunOptions = {}): Promise<RunbookRun[]> {
  assertRole(caller, 'viewer');
  const env = getEnvironment(environment);
  const defs = runbooks.map((id) => runbookDefinition(env, id));
  const session = await openStepSession(caller, environment, opts);
  return Promise.all(defs.map((d) => runRunbookIn(session, d)));
}

export { RUNBOOK_IDS, isRunbookId } from './types';
export type { Diagnosis, RunbookDefinition, RunbookId, RunbookRun, StepId, StepResult } from './types';
