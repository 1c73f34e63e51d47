import 'server-only';
import { cached, peekCache } from '@/lib/aws/cache';
import { writeGeneration } from '@/lib/aws/readers';
import { ALL_CHECKS } from '@/lib/checks/registry';
import { createAwsContext, createLocalContext, type CheckContext, type RunSettings } from '@/lib/checks/context';
import { checkDependencies, dependencyOrder, overallOf, rootCauseOf, runChecks } from '@/lib/checks/run';
import { evaluateDatabasePath } from '@/lib/checks/network-path';
import type { BackendFacts, CheckId, CheckResult, EnvironmentStatus, PasswordFacts } from '@/lib/checks/types';
import { getConfig, getEnvironment } from '@/lib/config/load';
import type { EnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import { assertRole, type Caller } from '@/lib/roles';

// The status of an environment, as every page, the JSON API and the runbooks read it: checked for
// the caller's role, cached for the config's TTL, and computed at most once at a time per
// environment. While it is computed, each check's result is available as it settles, and a
// diagnosis runs its steps on the same readers (openStatusRun).

export interface StatusOptions {
  /**
   * Bypass the cache (a refresh button, `?fresh=1`), except for a status younger than the config's
   * `freshReads.minAgeSeconds`: however many press it, an environment costs AWS at most one fresh
   * load per minimum age. Still joins a status already being computed.
   */
  fresh?: boolean;
}

/** A status being computed, or one computed earlier: each check as it settles, and the whole. */
export interface StatusRun {
  environment: EnvironmentConfig;
  /** The readers the checks used; a diagnosis's steps read through them too. */
  ctx: CheckContext;
  results: ReadonlyMap<string, Promise<CheckResult>>;
  status: Promise<EnvironmentStatus>;
  /** ISO time the run started (or the cached status's), for what is shown before the whole has settled. */
  checkedAt: string;
}

export async function getEnvironmentStatus(caller: Caller | null, name: string, opts: StatusOptions = {}): Promise<EnvironmentStatus> {
  assertRole(caller, 'viewer');
  return statusRun(getEnvironment(name), opts).status;
}

export async function listEnvironmentStatuses(caller: Caller | null, opts: StatusOptions = {}): Promise<EnvironmentStatus[]> {
  assertRole(caller, 'viewer');
  return Promise.all(getConfig().environments.map((env) => statusRun(env, opts).status));
}

/**
 * The environment's status run, for a diagnosis: joins one being computed, or starts one (with
 * `probeBackendTcp`, its container read also tests TCP from each backend, in the same command).
 */
export function openStatusRun(caller: Caller | null, name: string, opts: StatusOptions & { probeBackendTcp?: boolean } = {}): StatusRun {
  assertRole(caller, 'viewer');
  return statusRun(getEnvironment(name), opts);
}

/**
 * Which of `ids` is the status's root cause, as soon as that is certain: once one of them fails and
 * every check before it in dependency order has settled (a panel of the page marks it without
 * waiting for the checks after it). Null when none of them is.
 */
export async function rootCauseAmong(run: StatusRun, ids: readonly CheckId[]): Promise<CheckId | null> {
  const own = await Promise.all(ids.flatMap((id) => run.results.get(id) ?? []));
  const failing = new Set(own.filter((c) => c.status === 'fail').map((c) => c.id));
  if (failing.size === 0) return null;
  const order = dependencyOrder().filter((id) => run.results.has(id));
  const upTo = order.slice(0, order.findIndex((id) => failing.has(id)) + 1);
  const cause = rootCauseOf(await Promise.all(upTo.map((id) => run.results.get(id)!)));
  return cause && ids.includes(cause) ? cause : null;
}

/** Thrown out of a load whose every check errored, so the cache can serve an older status instead. */
class NothingCouldBeChecked extends Error {
  constructor(readonly status: EnvironmentStatus) {
    super(status.checks[0]?.summary.replace(/^Could not check: /, '') ?? 'no check could run');
  }
}

const computing = processWide('status.computing', () => new Map<string, StatusRun>());

function statusRun(env: EnvironmentConfig, opts: StatusOptions & { probeBackendTcp?: boolean }): StatusRun {
  const config = getConfig();
  // The key carries the environment's settings so an edited config never serves the old one's status,
  // and the console's own writes to it (a rotation step, a restart), so they show at once.
  const key = `status:${env.name}:${writeGeneration(env.name)}:${JSON.stringify(env)}:${config.checkTimeoutMs}`;
  const settings: RunSettings = {
    budgetMs: config.checkTimeoutMs,
    ttlMs: config.cacheTtlSeconds * 1000,
    fresh: opts.fresh ?? false,
    probeBackendTcp: opts.probeBackendTcp,
    // Every check runs: the container state and the password are needed, so they start with the run.
    readAhead: true,
  };
  const inFlight = computing.get(key);
  if (inFlight) return inFlight;
  const done = peekCache<EnvironmentStatus>(key);
  if (done && (!opts.fresh || Date.now() - done.fetchedAt < config.freshReads.minAgeSeconds * 1000)) {
    return settledRun(env, contextFor(env, { ...settings, fresh: false, readAhead: false }), done.value);
  }

  const ctx = contextFor(env, settings);
  const checks = runChecks(ALL_CHECKS, ctx, { dependencies: checkDependencies });
  const checkedAt = new Date().toISOString();
  const status = cached(
    key,
    settings.ttlMs,
    async () => {
      const results = await checks.all;
      const computed = statusOf(env, checkedAt, results, await passwordFacts(ctx), await backendFacts(ctx, results));
      if (computed.overall === 'unknown') throw new NothingCouldBeChecked(computed);
      return computed;
    },
    { fresh: true, staleOnError: true },
  )
    .then(({ value, fetchedAt, stale, staleReason }) =>
      stale ? { ...value, checkedAt: new Date(fetchedAt).toISOString(), stale: true, staleReason: `refresh failed: ${staleReason}` } : value,
    )
    .catch((err: unknown) => {
      if (err instanceof NothingCouldBeChecked) return err.status;
      throw err;
    })
    .finally(() => {
      if (computing.get(key) === run) computing.delete(key);
    });
  const run: StatusRun = { environment: env, ctx, results: checks.results, status, checkedAt };
  computing.set(key, run);
  return run;
}

function contextFor(env: EnvironmentConfig, settings: RunSettings): CheckContext {
  return env.kind === 'aws' ? createAwsContext(env, settings) : createLocalContext(env, settings);
}

function settledRun(env: EnvironmentConfig, ctx: CheckContext, status: EnvironmentStatus): StatusRun {
  return { environment: env, ctx, results: new Map(status.checks.map((c) => [c.id, Promise.resolve(c)])), status: Promise.resolve(status), checkedAt: status.checkedAt };
}

function statusOf(env: EnvironmentConfig, checkedAt: string, checks: CheckResult[], password: PasswordFacts | null, backends: BackendFacts[] | undefined): EnvironmentStatus {
  const status: EnvironmentStatus = { environment: env.name, kind: env.kind, overall: overallOf(checks), rootCause: rootCauseOf(checks), checkedAt, stale: false, checks, password };
  return backends ? { ...status, backends } : status;
}

/**
 * Each backend as the checks saw it, from what they read already (no call of its own): the instance,
 * its container, and its path as the rules decide it when the path checks ran.
 */
async function backendFacts(ctx: CheckContext, checks: CheckResult[]): Promise<BackendFacts[] | undefined> {
  if (ctx.kind !== 'aws') return undefined;
  const ran = (id: CheckId) => checks.some((c) => c.id === id && c.status !== 'skip');
  const [instances, containers, view] = await Promise.all([
    alreadyRead(ctx.backendInstances()),
    alreadyRead(ctx.containers()),
    // net.network-acls reads the VPC whenever RDS answers, even when a failed security-group check skips the other path check.
    ran('net.instance-security-groups') || ran('net.network-acls') ? alreadyRead(ctx.networkView()) : null,
  ]);
  if (!instances) return undefined;
  return instances.map((i) => {
    const report = containers?.reports[i.id];
    let path: BackendFacts['path'] = null;
    if (view && i.state === 'running') {
      const p = evaluateDatabasePath(view, i);
      path = p.blocked ? 'dropped' : p.securityGroups.verdict === 'open' && p.networkAcls.verdict === 'open' ? 'open' : 'unknown';
    }
    return { id: i.id, name: i.name, state: i.state, container: report?.ok ? report.container.status : null, path };
  });
}

/** A read the checks made, if it has answered by now: a check that gave up at its budget leaves the facts without it. */
function alreadyRead<T>(read: Promise<T>): Promise<T | null> {
  return Promise.race([read.catch(() => null), new Promise<null>((resolve) => setImmediate(() => resolve(null)))]);
}

/** From the parameters the SSM checks already read: no extra call. */
async function passwordFacts(ctx: CheckContext): Promise<PasswordFacts | null> {
  if (ctx.kind !== 'aws') return null;
  try {
    const p = (await ctx.parameters()).parameters['db-password'];
    return p ? { type: p.type, version: p.version, lastModified: p.lastModifiedDate } : null;
  } catch {
    return null;
  }
}
