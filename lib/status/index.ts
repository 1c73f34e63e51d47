import 'server-only';
import { cached } from '@/lib/aws/cache';
import { assertRole, type Caller } from '@/lib/auth/caller';
import { ALL_CHECKS } from '@/lib/checks/registry';
import { createAwsContext, createLocalContext } from '@/lib/checks/context';
import { overallOf, rootCauseOf, runChecks } from '@/lib/checks/run';
import type { EnvironmentStatus } from '@/lib/checks/types';
import { getConfig, getEnvironment } from '@/lib/config/load';
import type { EnvironmentConfig } from '@/lib/config/schema';

// The status of an environment, as every page, the JSON API and the runbooks read it: checked
// for the caller's role, cached for the config's TTL, shared by concurrent callers.

export interface StatusOptions {
  /** Bypass the cache (a refresh button, `?fresh=1`); still shares a fetch already in flight. */
  fresh?: boolean;
}

export async function getEnvironmentStatus(caller: Caller | null, name: string, opts: StatusOptions = {}): Promise<EnvironmentStatus> {
  assertRole(caller, 'viewer');
  return statusOf(getEnvironment(name), opts);
}

export async function listEnvironmentStatuses(caller: Caller | null, opts: StatusOptions = {}): Promise<EnvironmentStatus[]> {
  assertRole(caller, 'viewer');
  return Promise.all(getConfig().environments.map((env) => statusOf(env, opts)));
}

/** Thrown out of a load whose every check errored, so the cache can serve an older status instead. */
class NothingCouldBeChecked extends Error {
  constructor(readonly status: EnvironmentStatus) {
    super(status.checks[0]?.summary.replace(/^Could not check: /, '') ?? 'no check could run');
  }
}

async function statusOf(env: EnvironmentConfig, opts: StatusOptions): Promise<EnvironmentStatus> {
  const config = getConfig();
  const ttlMs = config.cacheTtlSeconds * 1000;
  // The key carries the environment's settings so an edited config never serves the old one's status.
  const key = `status:${env.name}:${JSON.stringify(env)}:${config.checkTimeoutMs}`;
  try {
    const { value, fetchedAt, stale, staleReason } = await cached(
      key,
      ttlMs,
      async () => {
        const status = await computeStatus(env, config.checkTimeoutMs, opts.fresh ?? false);
        if (status.overall === 'unknown') throw new NothingCouldBeChecked(status);
        return status;
      },
      { fresh: opts.fresh, staleOnError: true },
    );
    if (stale) return { ...value, checkedAt: new Date(fetchedAt).toISOString(), stale: true, staleReason: `refresh failed: ${staleReason}` };
    return value;
  } catch (err) {
    if (err instanceof NothingCouldBeChecked) return err.status;
    throw err;
  }
}

async function computeStatus(env: EnvironmentConfig, budgetMs: number, fresh: boolean): Promise<EnvironmentStatus> {
  const checkedAt = new Date().toISOString();
  const checks =
    env.kind === 'aws'
      ? await runChecks(ALL_CHECKS, createAwsContext(env, budgetMs, fresh))
      : await runChecks(ALL_CHECKS, createLocalContext(env, budgetMs, fresh));
  return { environment: env.name, kind: env.kind, overall: overallOf(checks), rootCause: rootCauseOf(checks), checkedAt, stale: false, checks };
}
