import 'server-only';
import { setMaxListeners } from 'node:events';
import { describeAwsError } from '@/lib/aws/errors';
import type { CheckContext } from './context';
import { CHECK_IDS, type CheckId, type CheckResult, type OverallStatus, type Verdict } from './types';

// The one runner, for status checks and runbook steps alike: each runs after the ones it depends
// on, within a time budget whose end aborts what it started, and hands out its result the moment it
// settles (a page can stream, a diagnosis can answer early). A whole run can be cancelled through
// an AbortSignal. To add a check: its definition in the file of its area, its id in types.ts and
// its dependencies in DEPENDENCIES below; the registry picks it up.
//
// Dependency rules (the "could not check is never broken" contract):
// - a dependency that failed or was skipped makes the check `skip`: its question is moot until
//   the earlier failure is fixed, and rootCause then names that earlier check;
// - a dependency in `error` (the console could not find out) does NOT skip or fail the check: it
//   still runs with whatever it can read itself, and says which dependencies are unverified. If
//   it needs the same unreadable data it becomes `error` too, never a verdict.
// Running over the budget is `error`, never `fail`.

export interface CheckDefinition<C extends CheckContext = CheckContext, Id extends string = CheckId> {
  id: Id;
  /** Which environment kinds it applies to. */
  kinds: ReadonlyArray<C['kind']>;
  /**
   * Results it reads without depending on them (a step that compares what other checks found): it
   * starts once they have settled, whatever they say, and finds them in `read`.
   */
  reads?: readonly string[];
  /** `signal` ends when the budget does or the run is cancelled: pass it to every call the check makes. */
  run(ctx: C, signal: AbortSignal, read: ReadonlyMap<string, CheckResult<string>>): Promise<Verdict>;
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
  'net.instance-security-groups': ['rds.status', 'sg.backend-ingress'],
  'net.network-acls': ['rds.status'],
  'net.tcp': ['rds.status'],
  // The password goes only where RDS and SSM agree the database is.
  'db.login': ['net.tcp', 'ssm.parameters', 'rds.endpoint-match'],
  'db.backend-credentials': ['ssm.parameters'],
  'containers.running': [],
  'containers.health': ['containers.running'],
  'containers.fresh-credentials': ['containers.running', 'ssm.parameters'],
  'local.database-url': [],
};

export function checkDependencies(id: CheckId): readonly CheckId[] {
  return DEPENDENCIES[id];
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

export interface RunOptions<Id extends string> {
  /** Which ids must settle before an id runs; ids outside this run are looked up in `given`. */
  dependencies: (id: Id) => readonly string[];
  /** Results settled or settling elsewhere (the status's checks, for a diagnosis's steps). */
  given?: ReadonlyMap<string, Promise<CheckResult<string>>>;
  /** Cancels every check still running; each then reports that it was not finished. */
  signal?: AbortSignal;
}

export interface CheckRun<Id extends string> {
  /** One promise per check, settling (never rejecting) when that check does. */
  results: ReadonlyMap<Id, Promise<CheckResult<Id>>>;
  /** Every result, in the definitions' order. */
  all: Promise<CheckResult<Id>[]>;
}

export function runChecks<C extends CheckContext, Id extends string>(
  definitions: ReadonlyArray<CheckDefinition<C, Id>>,
  ctx: C,
  opts: RunOptions<Id>,
): CheckRun<Id> {
  const applicable = definitions.filter((d) => (d.kinds as readonly string[]).includes(ctx.kind));
  const byId = new Map(applicable.map((d) => [d.id as string, d]));
  const results = new Map<Id, Promise<CheckResult<Id>>>();
  const resultOf = (id: string): Promise<CheckResult<string>> | undefined => {
    const def = byId.get(id);
    if (!def) return opts.given?.get(id);
    let running = results.get(def.id);
    if (!running) {
      const deps = opts.dependencies(def.id).flatMap((d) => resultOf(d) ?? []);
      const reads = (def.reads ?? []).flatMap((d) => resultOf(d) ?? []);
      running = runOne(def, ctx, deps, reads, opts.signal);
      results.set(def.id, running);
    }
    return running;
  };
  // What the run shares on its context (the decrypted password) is dropped once every run on it has settled.
  const endRun = ctx.beginRun();
  for (const def of applicable) resultOf(def.id);
  const all = Promise.all(applicable.map((d) => results.get(d.id)!));
  void all.finally(endRun);
  return { results, all };
}

async function runOne<C extends CheckContext, Id extends string>(
  def: CheckDefinition<C, Id>,
  ctx: C,
  deps: Promise<CheckResult<string>>[],
  reads: Promise<CheckResult<string>>[],
  cancel: AbortSignal | undefined,
): Promise<CheckResult<Id>> {
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
  const read = new Map((await Promise.all(reads)).map((r) => [r.id, r]));
  const started = performance.now();
  const verdict = await withinBudget(def, ctx, read, cancel);
  const result: CheckResult<Id> = { id: def.id, ...verdict, durationMs: Math.round(performance.now() - started) };
  if (unverified.length > 0) result.evidence = { ...result.evidence, unverifiedDependencies: unverified.join(', ') };
  return result;
}

class OverBudget extends Error {
  constructor(readonly budgetMs: number) {
    super(`no answer within the ${budgetMs} ms budget`);
    this.name = 'TimeoutError';
  }
}

async function withinBudget<C extends CheckContext, Id extends string>(
  def: CheckDefinition<C, Id>,
  ctx: C,
  read: ReadonlyMap<string, CheckResult<string>>,
  cancel: AbortSignal | undefined,
): Promise<Verdict> {
  if (cancel?.aborted) return notFinished(cancel);
  const controller = new AbortController();
  // Every SDK call and pause of a check listens on this one signal; a Run Command poll makes a dozen.
  setMaxListeners(64, controller.signal);
  const timer = setTimeout(() => controller.abort(new OverBudget(ctx.budgetMs)), ctx.budgetMs);
  const onCancel = () => controller.abort(cancel?.reason);
  cancel?.addEventListener('abort', onCancel, { once: true });
  const stopped = new Promise<Verdict>((resolve) =>
    controller.signal.addEventListener(
      'abort',
      () => {
        const reason: unknown = controller.signal.reason;
        if (reason instanceof OverBudget) resolve({ status: 'error', summary: `Could not check: ${reason.message}`, evidence: { reason: 'timeout', budgetMs: reason.budgetMs } });
        else if (cancel?.aborted) resolve(notFinished(cancel));
      },
      { once: true },
    ),
  );
  try {
    return await Promise.race([def.run(ctx, controller.signal, read).catch((err: unknown) => couldNotCheck(err)), stopped]);
  } finally {
    clearTimeout(timer);
    cancel?.removeEventListener('abort', onCancel);
    // Whatever the check started and did not need any more stops now.
    if (!controller.signal.aborted) controller.abort(new Error('the check has its answer'));
  }
}

function notFinished(cancel: AbortSignal): Verdict {
  const why = cancel.reason instanceof Error ? cancel.reason.message : 'the run was cancelled';
  return { status: 'error', summary: `Not finished: ${why}`, evidence: { reason: 'cancelled' } };
}

/** Any exception out of a check is the console's failure to find out, never a verdict on LinkBox. */
export function couldNotCheck(err: unknown, action?: string): Verdict {
  const d = describeAwsError(err, { action });
  return { status: 'error', summary: `Could not check: ${d.message}`, evidence: { reason: d.kind } };
}
