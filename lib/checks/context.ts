import 'server-only';
import type { LinkboxSecurityGroups, BackendInstance, RdsNetworkInterface } from '@/lib/aws/ec2';
import { describeAwsError } from '@/lib/aws/errors';
import { readDatabasePassword, type LinkboxParameters, type ParameterVersion } from '@/lib/aws/parameters';
import type { DatabaseInstance } from '@/lib/aws/rds';
import * as readers from '@/lib/aws/readers';
import type { ContainerReport, TcpProbeRequest, TcpReport } from '@/lib/aws/run-command';
import type { SimulatedDecision } from '@/lib/aws/iam';
import type { AwsEnvironmentConfig, LocalEnvironmentConfig } from '@/lib/config/schema';
import type { DatabaseNetworkView } from './network-path';
import type { Verdict } from './types';

// What the checks and runbook steps of one run share: each AWS read through lib/aws's cached
// readers, at most once per run (memoised), started when the first check needs it and time-boxed by
// the check budget. A diagnosis's steps run on the same context as the status checks they follow.
// The one value never cached is the decrypted password: read once for the run's checks that need
// it (db.login, db.backend-credentials) and dropped when every run on the context has settled.
// A status run reads ahead (`readAhead`): the two reads at the end of a chain, the containers' state
// and the password, start with the run rather than when their checks get to them.

export interface RunSettings {
  /** Time budget of one check, ms. */
  budgetMs: number;
  /** Lifetime of a plain AWS answer in the cache, ms. */
  ttlMs: number;
  /** Skip cached answers (a refresh button, `?fresh=1`). */
  fresh: boolean;
  /** A diagnosis: the container read also runs `nc` to the database from each backend, in the same command. */
  probeBackendTcp?: boolean;
  /**
   * The run's checks read the containers and log in (a status): start the container state's Run
   * Command and the password's decryption when the run begins, alongside the other reads.
   */
  readAhead?: boolean;
}

/** The share of the check budget a probe may use, so it reports its own timeout before the budget does. */
export const PROBE_SHARE = 0.8;

export type BackendTcp =
  | { kind: 'probed'; host: string; port: number; command: string; reports: Record<string, TcpReport> }
  | { kind: 'no-endpoint' }
  | { kind: 'not-a-host'; endpoint: string }
  | { kind: 'no-running-instance'; instances: BackendInstance[] };

/** Every context: the runner marks a run's start and end, so what a run shares is dropped after it. */
interface RunScope {
  /** Called by the runner when a run on this context starts; the function it returns, when that run has settled. */
  beginRun(): () => void;
}

export interface AwsCheckContext extends RunSettings, RunScope {
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
  /** The VPC between the backends and the database, for the path checks (lib/checks/network-path.ts). */
  networkView(): Promise<DatabaseNetworkView>;
  /** db-password's value, decrypted once for this run's checks; never cached beyond the run. */
  databasePassword(): Promise<string>;
  /** db-password's versions up to `current`, oldest first (times only). */
  passwordVersions(current: ParameterVersion): Promise<ParameterVersion[]>;
  /** A fingerprint (an HMAC, never the value) per version of db-password; decrypts only versions never fingerprinted. */
  passwordFingerprints(versions: ParameterVersion[]): Promise<Map<number, string>>;
}

export interface LocalCheckContext extends RunSettings, RunScope {
  kind: 'local';
  env: LocalEnvironmentConfig;
}

export type CheckContext = AwsCheckContext | LocalCheckContext;

/** The run's decrypted password, or the could-not-check verdict both login-side checks give when SSM will not decrypt it. */
export async function passwordOrCouldNotCheck(ctx: AwsCheckContext): Promise<{ password: string } | { verdict: Verdict }> {
  try {
    return { password: await ctx.databasePassword() };
  } catch (err) {
    const d = describeAwsError(err, { action: 'reading the database password from SSM' });
    return { verdict: { status: 'error', summary: `Could not check: ${d.message}`, evidence: { reason: d.kind } } };
  }
}

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

  /** Where the backends' nc goes for a db-endpoint value, or why there is nothing to test. */
  const targetFor = (endpoint: string | undefined): TcpProbeRequest | Exclude<BackendTcp, { kind: 'probed' }> => {
    if (endpoint === undefined) return { kind: 'no-endpoint' };
    if (!/^[A-Za-z0-9.-]+$/.test(endpoint)) return { kind: 'not-a-host', endpoint };
    return { host: endpoint, port: env.dbPort, waitSeconds: ncWaitSeconds(settings.budgetMs) };
  };
  const tcpTarget = async () => targetFor((await parameters()).parameters['db-endpoint']?.value);

  const containers = once(async () => {
    // A diagnosis asks the TCP question in the same command, to the db-endpoint the last read of SSM
    // named, so it waits for no read (backendTcp asks again should this run's read name another);
    // with nothing known yet, it waits for SSM. A status waits neither for SSM nor for EC2.
    const known = settings.probeBackendTcp ? readers.knownDatabaseEndpoint(env) : null;
    const target = settings.probeBackendTcp ? (known !== null ? targetFor(known) : await tcpTarget().catch(() => null)) : null;
    const tcpProbe = target && 'host' in target ? target : undefined;
    // Leaves the check a margin to report the per-instance reason before its own budget ends.
    const { value: reports, fetchedAt } = await readers.containerStates(env, policy(), {
      instanceIds: async () => (await running()).map((i) => i.id),
      passwordVersion: () =>
        parameters().then(
          (p) => p.parameters['db-password']?.version ?? null,
          () => null,
        ),
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

  const dbInstance = once(() => value(readers.databaseInstance(env, policy())));
  const securityGroups = once(() => value(readers.securityGroups(env, policy())));

  const networkView = once(async (): Promise<DatabaseNetworkView> => {
    const [db, instances, configured] = await Promise.all([dbInstance(), backendInstances(), securityGroups()]);
    if (!db) throw new Error(`RDS has no instance named ${env.rdsInstanceId}`);
    const vpcId = db.subnetGroup?.vpcId ?? null;
    const groupIds = [...db.securityGroupIds, ...instances.filter((i) => i.state === 'running').flatMap((i) => i.securityGroupIds)];
    const inVpc = <T>(read: (vpc: string) => Promise<{ value: T[] }>) => (vpcId ? value(read(vpcId)) : Promise.resolve([] as T[]));
    const [groups, subnets, acls, interfaces] = await Promise.all([
      readers.securityGroupsById(env, policy(), [...configured.db, ...configured.backend], groupIds),
      inVpc((vpc) => readers.vpcSubnets(env, policy(), vpc)),
      inVpc((vpc) => readers.vpcNetworkAcls(env, policy(), vpc)),
      inVpc((vpc) => readers.rdsNetworkInterfaces(env, policy(), vpc)),
    ]);
    return {
      vpcId,
      port: db.endpointPort ?? env.dbPort,
      database: {
        securityGroupIds: db.securityGroupIds,
        subnetIds: db.subnetGroup?.subnetIds ?? [],
        availabilityZone: db.availabilityZone,
        networkInterface: interfaceOf(db, interfaces),
      },
      groups: new Map(groups.map((g) => [g.id, g])),
      subnets: new Map(subnets.map((s) => [s.id, s])),
      acls,
    };
  });

  // The run's one decrypted read: shared while runs are open on this context, then forgotten.
  let password: Promise<string> | undefined;
  const databasePassword = () => (password ??= readDatabasePassword(env, { signal: AbortSignal.timeout(settings.budgetMs) }));
  let openRuns = 0;
  const beginRun = () => {
    openRuns += 1;
    if (settings.readAhead) {
      // Whoever needs them awaits them; a check that is skipped leaves a failure nobody reads.
      containers().catch(() => undefined);
      databasePassword().catch(() => undefined);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      openRuns -= 1;
      if (openRuns === 0) password = undefined;
    };
  };

  return {
    kind: 'aws',
    env,
    ...settings,
    beginRun,
    parameters,
    dbInstance,
    securityGroups,
    backendInstances,
    containers,
    backendTcp,
    agentPings: (ids) => value(readers.agentPings(env, policy(), ids)),
    profileRole: (arn) => value(readers.profileRole(env, policy(), arn)),
    simulation: (principal, checks) => value(readers.simulation(env, policy(), principal, checks)),
    networkView,
    databasePassword,
    passwordVersions: (current) => readers.passwordVersions(env, policy(), current),
    passwordFingerprints: (versions) => readers.passwordFingerprints(env, policy(), versions),
  };
}

/**
 * RDS's interface among those the VPC holds: in one of its subnet group's subnets, in its zone,
 * carrying its security groups. Null unless exactly one fits (then the path checks fall back to
 * the subnet group's subnets, lib/checks/network-path.ts).
 */
function interfaceOf(db: DatabaseInstance, interfaces: RdsNetworkInterface[]): RdsNetworkInterface | null {
  const inGroup = new Set(db.subnetGroup?.subnetIds ?? []);
  let candidates = interfaces.filter((n) => n.subnetId && inGroup.has(n.subnetId));
  const narrow = (keep: (n: RdsNetworkInterface) => boolean) => {
    const kept = candidates.filter(keep);
    if (kept.length > 0) candidates = kept;
  };
  if (db.availabilityZone) narrow((n) => n.availabilityZone === db.availabilityZone);
  narrow((n) => n.securityGroupIds.some((g) => db.securityGroupIds.includes(g)));
  return candidates.length === 1 ? candidates[0]! : null;
}

export function createLocalContext(env: LocalEnvironmentConfig, settings: RunSettings): LocalCheckContext {
  return { kind: 'local', env, ...settings, beginRun: () => () => undefined };
}

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= load());
}
