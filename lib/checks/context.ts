import 'server-only';
import type { LinkboxSecurityGroups, BackendInstance } from '@/lib/aws/ec2';
import { describeAwsError } from '@/lib/aws/errors';
import type { LinkboxParameters } from '@/lib/aws/parameters';
import type { DatabaseInstance } from '@/lib/aws/rds';
import * as readers from '@/lib/aws/readers';
import type { ContainerReport, TcpProbeRequest, TcpReport } from '@/lib/aws/run-command';
import type { SimulatedDecision } from '@/lib/aws/iam';
import type { AwsEnvironmentConfig, LocalEnvironmentConfig } from '@/lib/config/schema';

// What the checks and runbook steps of one run share: each AWS read through lib/aws's cached
// readers, at most once per run (memoised), started when the first check needs it and time-boxed by
// the check budget. A diagnosis's steps run on the same context as the status checks they follow.

export interface RunSettings {
  /** Time budget of one check, ms. */
  budgetMs: number;
  /** Lifetime of a plain AWS answer in the cache, ms. */
  ttlMs: number;
  /** Skip cached answers (a refresh button, `?fresh=1`). */
  fresh: boolean;
  /** A diagnosis: the container read also runs `nc` to the database from each backend, in the same command. */
  probeBackendTcp?: boolean;
}

/** The share of the check budget a probe may use, so it reports its own timeout before the budget does. */
export const PROBE_SHARE = 0.8;

export type BackendTcp =
  | { kind: 'probed'; host: string; port: number; command: string; reports: Record<string, TcpReport> }
  | { kind: 'no-endpoint' }
  | { kind: 'not-a-host'; endpoint: string }
  | { kind: 'no-running-instance'; instances: BackendInstance[] };

export interface AwsCheckContext extends RunSettings {
  kind: 'aws';
  env: AwsEnvironmentConfig;
  parameters(): Promise<LinkboxParameters>;
  /** Null when the instance does not exist. */
  dbInstance(): Promise<DatabaseInstance | null>;
  securityGroups(): Promise<LinkboxSecurityGroups>;
  backendInstances(): Promise<BackendInstance[]>;
  /** Per running instance id. */
  containers(): Promise<{ reports: Record<string, ContainerReport>; fetchedAt: number }>;
  /** `nc -zv <db-endpoint> <port>` from each running backend: the SSM endpoint, which the backends use. */
  backendTcp(): Promise<BackendTcp>;
  agentPings(instanceIds: string[]): Promise<Record<string, string>>;
  profileRole(profileArn: string): Promise<string | null>;
  simulation(principalArn: string, checks: Array<{ action: string; resource: string }>): Promise<SimulatedDecision[]>;
}

export interface LocalCheckContext extends RunSettings {
  kind: 'local';
  env: LocalEnvironmentConfig;
}

export type CheckContext = AwsCheckContext | LocalCheckContext;

/** nc's own timeout: well inside the budget, since Run Command's delivery and polling take the rest. */
function ncWaitSeconds(budgetMs: number): number {
  return Math.max(1, Math.floor((budgetMs - 2500) / 1000));
}

export function createAwsContext(env: AwsEnvironmentConfig, settings: RunSettings): AwsCheckContext {
  // Reads are shared by every check of the run (and joined by other runs), so they are bounded by
  // the budget, never cancelled by one check.
  const policy = (): readers.ReadPolicy => ({ ttlMs: settings.ttlMs, fresh: settings.fresh, signal: AbortSignal.timeout(settings.budgetMs) });
  const value = <T>(read: Promise<{ value: T }>) => read.then((r) => r.value);

  const parameters = once(() => value(readers.linkboxParameters(env, policy())));
  const backendInstances = once(() => value(readers.backendInstances(env, policy())));
  const running = async () => (await backendInstances()).filter((i) => i.state === 'running');

  /** Where the backends' nc goes, or why there is nothing to test. */
  const tcpTarget = async (): Promise<TcpProbeRequest | Exclude<BackendTcp, { kind: 'probed' }>> => {
    const endpoint = (await parameters()).parameters['db-endpoint']?.value;
    if (endpoint === undefined) return { kind: 'no-endpoint' };
    if (!/^[A-Za-z0-9.-]+$/.test(endpoint)) return { kind: 'not-a-host', endpoint };
    return { host: endpoint, port: env.dbPort, waitSeconds: ncWaitSeconds(settings.budgetMs) };
  };

  const containers = once(async () => {
    const ids = (await running()).map((i) => i.id);
    // A diagnosis asks the TCP question in the same command; a status must not wait for SSM to start it.
    const [passwordVersion, target] = await Promise.all([
      parameters().then(
        (p) => p.parameters['db-password']?.version ?? null,
        () => null,
      ),
      settings.probeBackendTcp ? tcpTarget().catch(() => null) : Promise.resolve(null),
    ]);
    const tcpProbe = target && 'host' in target ? target : undefined;
    // Leaves the check a margin to report the per-instance reason before its own budget ends.
    const { value: reports, fetchedAt } = await readers.containerStates(env, policy(), {
      instanceIds: ids,
      passwordVersion,
      timeoutMs: Math.floor(settings.budgetMs * PROBE_SHARE),
      tcpProbe,
    });
    return { reports, fetchedAt };
  });

  const backendTcp = once(async (): Promise<BackendTcp> => {
    const target = await tcpTarget();
    if (!('host' in target)) return target;
    const instances = await running();
    if (instances.length === 0) return { kind: 'no-running-instance', instances: await backendInstances() };
    // When this run's container read carried the nc lines, its answer is already in the cache.
    if (settings.probeBackendTcp) await containers().catch(() => undefined);
    const ids = instances.map((i) => i.id);
    let reports: Record<string, TcpReport>;
    try {
      ({ value: reports } = await readers.backendTcp(env, { ...policy(), fresh: settings.fresh && !settings.probeBackendTcp }, ids, target));
    } catch (err) {
      // No command reached any instance: each says why, so the step is "could not check" instance by instance.
      const reason = describeAwsError(err, { action: 'SendCommand' }).message;
      reports = Object.fromEntries(ids.map((id) => [id, { ok: false as const, reason }]));
    }
    return { kind: 'probed', host: target.host, port: target.port, command: `nc -zv -w ${target.waitSeconds} ${target.host} ${target.port}`, reports };
  });

  return {
    kind: 'aws',
    env,
    ...settings,
    parameters,
    dbInstance: once(() => value(readers.databaseInstance(env, policy()))),
    securityGroups: once(() => value(readers.securityGroups(env, policy()))),
    backendInstances,
    containers,
    backendTcp,
    agentPings: (ids) => value(readers.agentPings(env, policy(), ids)),
    profileRole: (arn) => value(readers.profileRole(env, policy(), arn)),
    simulation: (principal, checks) => value(readers.simulation(env, policy(), principal, checks)),
  };
}

export function createLocalContext(env: LocalEnvironmentConfig, settings: RunSettings): LocalCheckContext {
  return { kind: 'local', env, ...settings };
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
}
