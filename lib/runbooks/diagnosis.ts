import 'server-only';
import { assertRole, type Caller } from '@/lib/roles';
import { dependencyOrder } from '@/lib/checks/run';
import { LRUCache } from 'lru-cache';
import { getConfig, getEnvironment } from '@/lib/config/load';
import { processWide } from '@/lib/process-wide';
import { checkOfStep, isCheckId, RUNBOOK_ONLY_STEPS, runbookForStep, runbooksFor, StepSession, type RunOptions } from './index';
import type { Diagnosis, RunbookId, StepDefinition, StepId, StepResult } from './types';

// One call runs every runbook of an environment and names the root cause: the first failing step in
// dependency order, reported as its DESIGN.md check id. "Could not check" (`error`) is never a root
// cause; a diagnosis with nothing failing but something unchecked says "unknown", not "healthy".

/**
 * Steps in dependency order: the status engine's check order, each runbook-only step placed next
 * to the check it refines (local steps before local.database-url, backend steps after their check).
 */
export function diagnosisOrder(steps: StepId[]): StepId[] {
  const order = dependencyOrder();
  const rank = (id: StepId): number => {
    const base = order.indexOf(checkOfStep(id)) * 10;
    if (isCheckId(id)) return base + 5;
    return base + (RUNBOOK_ONLY_STEPS[id].placement === 'before' ? 1 : 6);
  };
  return [...steps].sort((a, b) => rank(a) - rank(b));
}

export function diagnoseFrom(environment: string, kind: 'aws' | 'local', checkedAt: string, results: Array<StepResult & { runbooks: RunbookId[] }>): Diagnosis {
  const ordered = diagnosisOrder(results.map((r) => r.id)).map((id) => results.find((r) => r.id === id)!);
  const failing = ordered.find((s) => s.status === 'fail') ?? null;
  const couldNotCheck = ordered.filter((s) => s.status === 'error').map((s) => s.id);
  return {
    environment,
    rootCause: failing ? failing.check : null,
    rootCauseStep: failing ? failing.id : null,
    runbook: failing ? runbookForStep(failing.id, kind) : null,
    couldNotCheck,
    verdict: failing ? 'broken' : couldNotCheck.length > 0 ? 'unknown' : 'healthy',
    checkedAt,
    steps: ordered,
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

/**
 * Diagnoses an environment for anyone who may read it (viewer and up). A fresh diagnosis is one per
 * caller and environment every `freshReads.diagnosisEverySeconds`; in between, the caller gets the
 * latest one, its age, and when a fresh one is possible again.
 */
export async function diagnoseEnvironment(caller: Caller | null, environment: string, opts: RunOptions = {}): Promise<Diagnosis> {
  assertRole(caller, 'viewer');
  const kind = getEnvironment(environment).kind;
  const allowed = opts.fresh ? freshDiagnosisAllowed(caller, environment) : { ok: true as const };
  const steps = new Map<StepId, { def: StepDefinition; runbooks: RunbookId[] }>();
  for (const runbook of runbooksFor(kind)) {
    for (const def of runbook.steps) {
      const entry = steps.get(def.id);
      if (entry) entry.runbooks.push(runbook.id);
      else steps.set(def.id, { def, runbooks: [runbook.id] });
    }
  }
  const session = StepSession.open(caller, environment, [...steps.values()].map((s) => s.def), { fresh: opts.fresh && allowed.ok });
  const [results, status] = await Promise.all([
    Promise.all([...steps.values()].map(async ({ def, runbooks }) => ({ ...(await session.result(def)), runbooks }))),
    session.status(),
  ]);
  const diagnosis = diagnoseFrom(environment, kind, status.checkedAt, results);
  return allowed.ok ? diagnosis : { ...diagnosis, freshLimited: { retryInSeconds: allowed.retryInSeconds } };
}
