import 'server-only';
import { assertRole, type Caller } from '@/lib/roles';
import { dependencyOrder } from '@/lib/checks/run';
import { LRUCache } from 'lru-cache';
import { getConfig, getEnvironment } from '@/lib/config/load';
import { processWide } from '@/lib/process-wide';
import { checkOfStep, isCheckId, RUNBOOK_ONLY_STEPS, runbookForStep, runbooksFor, StepSession, type RunOptions } from './index';
import type { DiagnosedStep, Diagnosis, PendingStep, RunbookId, StepDefinition, StepId } from './types';

// One call runs every runbook of an environment and names the root cause: the first failing step in
// dependency order, reported as its DESIGN.md check id. "Could not check" (`error`) is never a root
// cause; a diagnosis with nothing failing but something unchecked says "unknown", not "healthy".
// The answer comes as soon as it is certain: once a step fails and every step before it has
// answered without failing, nothing later can change it, so the rest stream in after it.

/**
 * Steps in dependency order: the status engine's check order, each runbook-only step placed next
 * to the check RUNBOOK_ONLY_STEPS puts it beside (before or after it).
 */
export function diagnosisOrder(steps: StepId[]): StepId[] {
  const order = dependencyOrder();
  const rank = (id: StepId): number => {
    if (isCheckId(id)) return order.indexOf(id) * 10 + 5;
    const place = RUNBOOK_ONLY_STEPS[id];
    return order.indexOf(place.beside ?? place.check) * 10 + (place.placement === 'before' ? 1 : 6);
  };
  return [...steps].sort((a, b) => rank(a) - rank(b));
}

/**
 * The root cause once it is certain: the first step in `order` that fails, when every step before
 * it has answered without failing. `null` once every step has answered and none fails; `undefined`
 * while an earlier step could still fail.
 */
export function certainRootCause(order: readonly StepId[], answered: ReadonlyMap<StepId, { status: string }>): StepId | null | undefined {
  for (const id of order) {
    const result = answered.get(id);
    if (!result) return undefined;
    if (result.status === 'fail') return id;
  }
  return null;
}

/** The diagnosis from the steps that have answered (and those still running, when it came early). */
export function diagnoseFrom(environment: string, kind: 'aws' | 'local', checkedAt: string, results: DiagnosedStep[], pending: PendingStep[] = []): Diagnosis {
  const byId = new Map(results.map((r) => [r.id, r]));
  const ordered = diagnosisOrder(results.map((r) => r.id)).map((id) => byId.get(id)!);
  const failing = ordered.find((s) => s.status === 'fail') ?? null;
  const couldNotCheck = ordered.filter((s) => s.status === 'error').map((s) => s.id);
  const pendingIds = diagnosisOrder(pending.map((p) => p.id));
  return {
    environment,
    rootCause: failing ? failing.check : null,
    rootCauseStep: failing ? failing.id : null,
    runbook: failing ? runbookForStep(failing.id, kind) : null,
    couldNotCheck,
    verdict: failing ? 'broken' : couldNotCheck.length > 0 ? 'unknown' : 'healthy',
    checkedAt,
    complete: pending.length === 0,
    steps: ordered,
    pending: pendingIds.map((id) => pending.find((p) => p.id === id)!),
  };
}

/** When each caller last got a fresh diagnosis of each environment. */
const lastFresh = processWide('runbooks.lastFreshDiagnosis', () => new LRUCache<string, number>({ max: 10_000 }));

/** Whether the caller may have a fresh diagnosis now (and then counts it), or in how many seconds. */
function freshDiagnosisAllowed(caller: Caller, environment: string): { ok: true } | { ok: false; retryInSeconds: number } {
  const everyMs = getConfig().freshReads.diagnosisEverySeconds * 1000;
  const key = `${caller.id}|${environment}`;
  const last = lastFresh.get(key);
  const now = Date.now();
  if (last !== undefined && now - last < everyMs) return { ok: false, retryInSeconds: Math.ceil((last + everyMs - now) / 1000) };
  lastFresh.set(key, now);
  return { ok: true };
}

/** A diagnosis being run: each step as it answers, the answer once it is certain, and the whole. */
export interface DiagnosisRun {
  environment: string;
  /** Every step, once, in dependency order; `result` settles (never rejects) when the step answers. */
  steps: Array<PendingStep & { result: Promise<DiagnosedStep> }>;
  /** As soon as the root cause is certain, or every step has answered (`complete` says which). */
  certain: Promise<Diagnosis>;
  /** Once every step has answered. */
  complete: Promise<Diagnosis>;
  /** Set when a fresh diagnosis was asked for too soon after the caller's last one. */
  freshLimited?: { retryInSeconds: number };
}

/**
 * Starts a diagnosis for anyone who may read the environment (viewer and up). A fresh diagnosis is
 * one per caller and environment every `freshReads.diagnosisEverySeconds`; in between, the caller
 * gets the latest one, its age, and when a fresh one is possible again.
 */
export function openDiagnosis(caller: Caller | null, environment: string, opts: RunOptions = {}): DiagnosisRun {
  assertRole(caller, 'viewer');
  const kind = getEnvironment(environment).kind;
  const allowed = opts.fresh ? freshDiagnosisAllowed(caller, environment) : { ok: true as const };
  const defs = new Map<StepId, { def: StepDefinition; runbooks: RunbookId[] }>();
  for (const runbook of runbooksFor(kind)) {
    for (const def of runbook.steps) {
      const entry = defs.get(def.id);
      if (entry) entry.runbooks.push(runbook.id);
      else defs.set(def.id, { def, runbooks: [runbook.id] });
    }
  }
  const session = StepSession.open(caller, environment, [...defs.values()].map((s) => s.def), { fresh: opts.fresh && allowed.ok });
  const order = diagnosisOrder([...defs.keys()]);
  const steps = order.map((id) => {
    const { def, runbooks } = defs.get(id)!;
    return { id, title: def.title, check: checkOfStep(id), runbooks, result: session.result(def).then((r): DiagnosedStep => ({ ...r, runbooks })) };
  });
  const freshLimited = allowed.ok ? undefined : { retryInSeconds: allowed.retryInSeconds };
  const answered = new Map<StepId, DiagnosedStep>();
  const snapshot = (): Diagnosis => {
    const pending = steps.filter((s) => !answered.has(s.id)).map(({ id, title, check, runbooks }) => ({ id, title, check, runbooks }));
    const d = diagnoseFrom(environment, kind, session.checkedAt, [...answered.values()], pending);
    return freshLimited ? { ...d, freshLimited } : d;
  };
  let answer: ((d: Diagnosis) => void) | null = null;
  const certain = new Promise<Diagnosis>((resolve) => (answer = resolve));
  for (const step of steps) {
    void step.result.then((r) => {
      answered.set(step.id, r);
      if (answer && certainRootCause(order, answered) !== undefined) {
        answer(snapshot());
        answer = null;
      }
    });
  }
  const complete = Promise.all(steps.map((s) => s.result)).then(snapshot);
  return { environment, steps, certain, complete, ...(freshLimited ? { freshLimited } : {}) };
}

/**
 * Diagnoses an environment (viewer and up): by default once every step has answered; with
 * `wait: 'certain'`, as soon as the root cause is certain (the rest keep running for the status and
 * the caches).
 */
export function diagnoseEnvironment(caller: Caller | null, environment: string, opts: RunOptions & { wait?: 'certain' | 'all' } = {}): Promise<Diagnosis> {
  const run = openDiagnosis(caller, environment, opts);
  return opts.wait === 'certain' ? run.certain : run.complete;
}
