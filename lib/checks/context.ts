import 'server-only';
import { cached } from '@/lib/aws/cache';
import { describeBackendInstances, describeLinkboxSecurityGroups, type BackendInstance, type LinkboxSecurityGroups } from '@/lib/aws/ec2';
import { readLinkboxParameters, type LinkboxParameters } from '@/lib/aws/parameters';
import { describeDatabaseInstance, type DatabaseInstance } from '@/lib/aws/rds';
import { inspectBackendContainers, type ContainerReport } from '@/lib/aws/run-command';
import type { AwsEnvironmentConfig, LocalEnvironmentConfig } from '@/lib/config/schema';

// What the checks of one status share: each AWS read happens at most once per status (memoised
// promise), starts when the first check needs it, and is time-boxed by the check budget.

/** Container state comes from Run Command, which takes seconds: kept this long across statuses. */
export const CONTAINER_STATE_TTL_MS = 60_000;

/**
 * Container state is kept per password version, so a rotation never leaves a started-at from before
 * it in the cache; a restart (lib/deploy) drops the environment's entries outright.
 */
export function containerStateCachePrefix(environment: string): string {
  return `containers:${environment}:`;
}

export interface AwsCheckContext {
  kind: 'aws';
  env: AwsEnvironmentConfig;
  /** Time budget of one check, ms. */
  budgetMs: number;
  fresh: boolean;
  parameters(): Promise<LinkboxParameters>;
  /** Null when the instance does not exist. */
  dbInstance(): Promise<DatabaseInstance | null>;
  securityGroups(): Promise<LinkboxSecurityGroups>;
  backendInstances(): Promise<BackendInstance[]>;
  /** Per running instance id. */
  containers(): Promise<{ reports: Record<string, ContainerReport>; fetchedAt: number }>;
}

export interface LocalCheckContext {
  kind: 'local';
  env: LocalEnvironmentConfig;
  budgetMs: number;
  fresh: boolean;
}

export type CheckContext = AwsCheckContext | LocalCheckContext;

export function createAwsContext(env: AwsEnvironmentConfig, budgetMs: number, fresh = false): AwsCheckContext {
  const signal = () => AbortSignal.timeout(budgetMs);
  const ctx: AwsCheckContext = {
    kind: 'aws',
    env,
    budgetMs,
    fresh,
    parameters: once(() => readLinkboxParameters(env, { withUsers: true, abortSignal: signal() })),
    dbInstance: once(() => describeDatabaseInstance(env, { abortSignal: signal() })),
    securityGroups: once(() => describeLinkboxSecurityGroups(env, { abortSignal: signal() })),
    backendInstances: once(() => describeBackendInstances(env, { abortSignal: signal() })),
    containers: once(async () => {
      const running = (await ctx.backendInstances()).filter((i) => i.state === 'running').map((i) => i.id);
      const passwordVersion = await ctx.parameters().then(
        (p) => p.parameters['db-password']?.version ?? null,
        () => null,
      );
      const key = `${containerStateCachePrefix(env.name)}${JSON.stringify([env.region, env.endpoint, running, passwordVersion])}`;
      const startedAt = Date.now();
      try {
        const { value, fetchedAt } = await cached(
          key,
          CONTAINER_STATE_TTL_MS,
          async () => {
            // Leaves the check a margin to report the per-instance reason before its own budget ends.
            const reports = await inspectBackendContainers(env, running, { timeoutMs: Math.floor(budgetMs * 0.8), abortSignal: signal() });
            // A report that could not be read must not be kept for a minute: the next status asks again.
            if (Object.values(reports).some((r) => !r.ok)) throw new IncompleteContainerReports(reports);
            return reports;
          },
          { fresh },
        );
        return { reports: value, fetchedAt };
      } catch (err) {
        if (err instanceof IncompleteContainerReports) return { reports: err.reports, fetchedAt: startedAt };
        throw err;
      }
    }),
  };
  return ctx;
}

export function createLocalContext(env: LocalEnvironmentConfig, budgetMs: number, fresh = false): LocalCheckContext {
  return { kind: 'local', env, budgetMs, fresh };
}

class IncompleteContainerReports extends Error {
  constructor(readonly reports: Record<string, ContainerReport>) {
    super('some container states could not be read');
  }
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
}
