import 'server-only';
import { assertRole, type Caller } from '@/lib/roles';
import { dependencyOrder } from '@/lib/checks/run';
import { getEnvironment } from '@/lib/config/load';
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

/** Diagnoses an environment for anyone who may read it (viewer and up). */
export async function diagnoseEnvironment(caller: Caller | null, environment: string, opts: RunOptions = {}): Promise<Diagnosis> {
  assertRole(caller, 'viewer');
  const kind = getEnvironment(environment).kind;
  const steps = new Map<StepId, { def: StepDefinition; runbooks: RunbookId[] }>();
  for (const runbook of runbooksFor(kind)) {
    for (const def of runbook.steps) {
      const entry = steps.get(def.id);
      if (entry) entry.runbooks.push(runbook.id);
      else steps.set(def.id, { def, runbooks: [runbook.id] });
    }
  }
  const session = StepSession.open(caller, environment, [...steps.values()].map((s) => s.def), opts);
  const [results, status] = await Promise.all([
    Promise.all([...steps.values()].map(async ({ def, runbooks }) => ({ ...(await session.result(def)), runbooks }))),
    session.status(),
  ]);
  return diagnoseFrom(environment, kind, status.checkedAt, results);
}
