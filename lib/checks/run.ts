import 'server-only';
import { describeAwsError } from '@/lib/aws/errors';
import type { CheckContext } from './context';
import { CHECK_IDS, type CheckId, type CheckResult, type OverallStatus } from './types';

// Runs one environment's checks concurrently, each after the checks it depends on.
//
// Dependency rules (the "could not check is never broken" contract):
// - a dependency that failed or was skipped makes the check `skip`: its question is moot until
//   the earlier failure is fixed, and rootCause then names that earlier check;
// - a dependency in `error` (the console could not find out) does NOT skip or fail the check: it
//   still runs with whatever it can read itself, and says which dependencies are unverified. If
//   it needs the same unreadable data it becomes `error` too, never a verdict.
// Every check runs within the time budget; running over it is `error`, never `fail`.

export type CheckVerdict = Omit<CheckResult, 'id' | 'durationMs'>;

export interface CheckDefinition<C extends CheckContext = CheckContext> {
  id: CheckId;
  /** Which environment kinds it applies to. */
  kinds: ReadonlyArray<C['kind']>;
  run(ctx: C): Promise<CheckVerdict>;
}

const DEPENDENCIES: Record<CheckId, CheckId[]> = {
  'ssm.parameters': [],
  'ssm.password-type': ['ssm.parameters'],
  'ssm.password-age': ['ssm.parameters'],
  'rds.status': [],
  'rds.endpoint-match': ['ssm.parameters', 'rds.status'],
  'rds.username-match': ['ssm.parameters', 'rds.status'],
  'rds.private': ['rds.status'],
  'sg.backend-ingress': [],
  'sg.no-public-ingress': [],
  'net.tcp': ['rds.status'],
  'db.login': ['net.tcp', 'ssm.parameters'],
  'containers.running': [],
  'containers.health': ['containers.running'],
  'containers.fresh-credentials': ['containers.running', 'ssm.parameters'],
  'local.database-url': [],
};

/** The dependency order used by diagnosis: check id → the checks that must pass before it means anything. */
export function checkDependencies(): Record<CheckId, CheckId[]> {
  return Object.fromEntries(Object.entries(DEPENDENCIES).map(([k, v]) => [k, [...v]])) as Record<CheckId, CheckId[]>;
}

/** All check ids, dependencies before dependents, ties in the vocabulary's order. */
export function dependencyOrder(): CheckId[] {
  const order: CheckId[] = [];
  const seen = new Set<CheckId>();
  const visit = (id: CheckId) => {
    if (seen.has(id)) return;
    seen.add(id);
    for (const dep of DEPENDENCIES[id]) visit(dep);
    order.push(id);
  };
  for (const id of CHECK_IDS) visit(id);
  return order;
}

/** The first failing check in dependency order. A warn, skip or error is never a root cause. */
export function rootCauseOf(results: CheckResult[]): CheckId | null {
  const failing = new Set(results.filter((r) => r.status === 'fail').map((r) => r.id));
  return dependencyOrder().find((id) => failing.has(id)) ?? null;
}

/** broken if any fail; unknown if nothing could be checked; degraded if any warn or error; else healthy. */
export function overallOf(results: CheckResult[]): OverallStatus {
  if (results.some((r) => r.status === 'fail')) return 'broken';
  if (results.length > 0 && results.every((r) => r.status === 'error')) return 'unknown';
  if (results.some((r) => r.status === 'warn' || r.status === 'error')) return 'degraded';
  return 'healthy';
}

export async function runChecks<C extends CheckContext>(definitions: ReadonlyArray<CheckDefinition<C>>, ctx: C): Promise<CheckResult[]> {
  const byId = new Map(definitions.filter((d) => (d.kinds as readonly string[]).includes(ctx.kind)).map((d) => [d.id, d]));
  const running = new Map<CheckId, Promise<CheckResult>>();
  for (const id of dependencyOrder()) {
    const def = byId.get(id);
    if (!def) continue;
    const deps = DEPENDENCIES[id].filter((d) => running.has(d)).map((d) => running.get(d)!);
    running.set(id, runOne(def, ctx, deps));
  }
  return Promise.all(running.values());
}

async function runOne<C extends CheckContext>(def: CheckDefinition<C>, ctx: C, deps: Promise<CheckResult>[]): Promise<CheckResult> {
  const depResults = await Promise.all(deps);
  const blocking = depResults.filter((d) => d.status === 'fail' || d.status === 'skip');
  if (blocking.length > 0) {
    return {
      id: def.id,
      status: 'skip',
      summary: `Not checked: ${blocking.map((d) => `${d.id} ${d.status === 'fail' ? 'failed' : 'was skipped'}`).join(', ')}`,
      evidence: { blockedBy: blocking.map((d) => d.id).join(', ') },
    };
  }
  const unverified = depResults.filter((d) => d.status === 'error').map((d) => d.id);
  const started = performance.now();
  const verdict = await withinBudget(def, ctx);
  const result: CheckResult = { id: def.id, ...verdict, durationMs: Math.round(performance.now() - started) };
  if (unverified.length > 0) result.evidence = { ...result.evidence, unverifiedDependencies: unverified.join(', ') };
  return result;
}

async function withinBudget<C extends CheckContext>(def: CheckDefinition<C>, ctx: C): Promise<CheckVerdict> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const overBudget = new Promise<CheckVerdict>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'error', summary: `Could not check: no answer within the ${ctx.budgetMs} ms budget`, evidence: { reason: 'timeout', budgetMs: ctx.budgetMs } }),
      ctx.budgetMs,
    );
  });
  try {
    return await Promise.race([def.run(ctx).catch((err: unknown) => couldNotCheck(err)), overBudget]);
  } finally {
    clearTimeout(timer);
  }
}

/** Any exception out of a check is the console's failure to find out, never a verdict on LinkBox. */
export function couldNotCheck(err: unknown, action?: string): CheckVerdict {
  const d = describeAwsError(err, { action });
  return { status: 'error', summary: `Could not check: ${d.message}`, evidence: { reason: d.kind } };
}
