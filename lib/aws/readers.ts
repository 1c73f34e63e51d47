import 'server-only';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import { cached, invalidateCache, lastGoodValue, peekCache, primeCache, type CachedValue } from './cache';
import { awsScope } from './scope';
import {
  describeBackendInstances,
  describeLinkboxSecurityGroups,
  describeRdsNetworkInterfaces,
  describeSecurityGroupsById,
  describeVpcNetworkAcls,
  describeVpcSubnets,
  type BackendInstance,
  type LinkboxSecurityGroups,
  type NetworkAclInfo,
  type RdsNetworkInterface,
  type SecurityGroupInfo,
  type SubnetInfo,
} from './ec2';
import { instanceProfileRole, simulatePrincipalPolicy, type SimulatedDecision } from './iam';
import { fingerprintPasswordVersions, readLinkboxParameters, readPasswordVersions, type LinkboxParameters, type ParameterVersion } from './parameters';
import { describeDatabaseInstance, type DatabaseInstance } from './rds';
import { describeAgentPings, readBackendReports, type BackendReport, type ContainerReport, type TcpProbeRequest, type TcpReport } from './run-command';

// The readers the status and the diagnosis share: every AWS read goes through the one cache, keyed
// by the AWS scope (region, endpoint, credentials) and the resource, so a diagnosis reuses what the
// status just read (same entries, same in-flight loads) and environments in one scope share
// identical reads.
// Add a read here: its key, its TTL, the lib/aws function that makes the call.

export interface ReadPolicy {
  /** How long a plain Describe/Get answer is kept (the config's cacheTtlSeconds). */
  ttlMs: number;
  /** Skip a cached answer (still joins a load in flight). */
  fresh?: boolean;
  /**
   * Cancels the AWS call itself. Shared by every caller that joins the load, so pass a time budget
   * (AbortSignal.timeout), never one caller's cancellation.
   */
  signal?: AbortSignal;
}

/** Container state and `nc` come from Run Command, which takes seconds: kept this long. */
export const BACKEND_REPORT_TTL_MS = 60_000;
/** IAM's answers change rarely and cost more: kept this many times the plain TTL. */
const SLOW_ANSWER_TTL_FACTOR = 4;
/** What a past version of a parameter was never changes: its time and fingerprint are kept this long (LRU-bounded). */
const PAST_VERSION_TTL_MS = 24 * 3_600_000;

/** What was read, then where from (the scope), then which resource: a prefix names one kind of read. */
function key(env: AwsEnvironmentConfig, what: string, ...parts: unknown[]): string {
  return `${what}|${awsScope(env)}|${JSON.stringify(parts)}`;
}

export function linkboxParameters(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<LinkboxParameters>> {
  return cached(parametersKey(env), p.ttlMs, () => readLinkboxParameters(env, { signal: p.signal }), { fresh: p.fresh, remember: true });
}

function parametersKey(env: AwsEnvironmentConfig): string {
  return key(env, 'parameters', env.parameterPrefix);
}

/** db-endpoint as the last good read of the parameters named it, however old; null before the first. */
export function knownDatabaseEndpoint(env: AwsEnvironmentConfig): string | null {
  return lastGoodValue<LinkboxParameters>(parametersKey(env))?.value.parameters['db-endpoint']?.value ?? null;
}

export function databaseInstance(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<DatabaseInstance | null>> {
  return cached(key(env, 'db-instance', env.rdsInstanceId), p.ttlMs, () => describeDatabaseInstance(env, { signal: p.signal }), { fresh: p.fresh });
}

export function securityGroups(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<LinkboxSecurityGroups>> {
  return cached(key(env, 'security-groups', env.dbSecurityGroup, env.backendSecurityGroup), p.ttlMs, () => describeLinkboxSecurityGroups(env, { signal: p.signal }), {
    fresh: p.fresh,
  });
}

/** Remembered past its TTL: the next container read starts at the instances it named (containerStates). */
export function backendInstances(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<BackendInstance[]>> {
  return cached(backendInstancesKey(env), p.ttlMs, () => describeBackendInstances(env, { signal: p.signal }), { fresh: p.fresh, remember: true });
}

function backendInstancesKey(env: AwsEnvironmentConfig): string {
  return key(env, 'backend-instances', env.backendInstances);
}

/**
 * Groups by id, for the groups an instance or RDS names beyond the configured selectors (an
 * instance moved to another group): those the selectors already read are taken from that answer,
 * so a healthy fleet costs no second DescribeSecurityGroups.
 */
export async function securityGroupsById(env: AwsEnvironmentConfig, p: ReadPolicy, known: SecurityGroupInfo[], groupIds: string[]): Promise<SecurityGroupInfo[]> {
  const have = new Map(known.map((g) => [g.id, g]));
  const missing = [...new Set(groupIds)].filter((id) => !have.has(id)).sort();
  if (missing.length === 0) return groupIds.flatMap((id) => have.get(id) ?? []);
  const { value } = await cached(key(env, 'security-groups-by-id', missing), p.ttlMs, () => describeSecurityGroupsById(env, missing, { signal: p.signal }), { fresh: p.fresh });
  for (const g of value) have.set(g.id, g);
  return [...new Set(groupIds)].flatMap((id) => have.get(id) ?? []);
}

export function vpcSubnets(env: AwsEnvironmentConfig, p: ReadPolicy, vpcId: string): Promise<CachedValue<SubnetInfo[]>> {
  return cached(key(env, 'subnets', vpcId), p.ttlMs, () => describeVpcSubnets(env, vpcId, { signal: p.signal }), { fresh: p.fresh });
}

export function vpcNetworkAcls(env: AwsEnvironmentConfig, p: ReadPolicy, vpcId: string): Promise<CachedValue<NetworkAclInfo[]>> {
  return cached(key(env, 'network-acls', vpcId), p.ttlMs, () => describeVpcNetworkAcls(env, vpcId, { signal: p.signal }), { fresh: p.fresh });
}

export function rdsNetworkInterfaces(env: AwsEnvironmentConfig, p: ReadPolicy, vpcId: string): Promise<CachedValue<RdsNetworkInterface[]>> {
  return cached(key(env, 'rds-interfaces', vpcId), p.ttlMs, () => describeRdsNetworkInterfaces(env, vpcId, { signal: p.signal }), { fresh: p.fresh });
}

/**
 * db-password's versions up to `current`, oldest first. What came before a version never changes,
 * so the answer is kept as long as `current` is the current one (and `fresh` does not apply).
 */
export async function passwordVersions(env: AwsEnvironmentConfig, p: ReadPolicy, current: ParameterVersion): Promise<ParameterVersion[]> {
  const { value } = await cached(key(env, 'password-versions', env.parameterPrefix, current), PAST_VERSION_TTL_MS, () => readPasswordVersions(env, { signal: p.signal }));
  return value.filter((v) => v.version <= current.version);
}

/**
 * A fingerprint per version of db-password (lib/aws/parameters.ts: an HMAC, never the value),
 * remembered per version, so only a version never fingerprinted before is decrypted. A version SSM
 * no longer has is absent.
 */
export async function passwordFingerprints(env: AwsEnvironmentConfig, p: ReadPolicy, versions: ParameterVersion[]): Promise<Map<number, string>> {
  const entryKey = (v: ParameterVersion) => key(env, 'password-fingerprint', env.parameterPrefix, v);
  const found = new Map<number, string>();
  const missing: ParameterVersion[] = [];
  for (const v of versions) {
    const hit = peekCache<string>(entryKey(v));
    if (hit) found.set(v.version, hit.value);
    else missing.push(v);
  }
  if (missing.length === 0) return found;
  missing.sort((a, b) => a.version - b.version);
  // Statuses that need the same versions at once share one decryption; nothing of it is kept but the fingerprints.
  const { value, fetchedAt } = await cached(key(env, 'password-fingerprinting', env.parameterPrefix, missing), 0, () => fingerprintPasswordVersions(env, missing, { signal: p.signal }));
  for (const v of missing) {
    const fingerprint = value.get(v.version);
    if (fingerprint === undefined) continue;
    found.set(v.version, fingerprint);
    primeCache(entryKey(v), fingerprint, fetchedAt, PAST_VERSION_TTL_MS);
  }
  return found;
}

interface BackendReportsEntry {
  instanceIds: string[];
  /** The db-password version when the state was read: a rotation makes the started-at times worth reading again. */
  passwordVersion: number | null;
  reports: Record<string, ContainerReport>;
}

export interface ContainerReadOptions {
  /** The running backends, as this run's DescribeInstances answers. */
  instanceIds: () => Promise<string[]>;
  /** db-password's version now (null when unknown). */
  passwordVersion: () => Promise<number | null>;
  /** How long the Run Command may take. */
  timeoutMs: number;
  /** Also run `nc` to the database from each instance, in the same command (a diagnosis). */
  tcpProbe?: TcpProbeRequest;
}

/**
 * Each running instance's container state. A report that could not be read is never kept, so the
 * next status asks again; a restart (lib/operations) drops the entry outright. The Run Command does
 * not wait for DescribeInstances: it goes at once to the instances the last answer named.
 */
export async function containerStates(env: AwsEnvironmentConfig, p: ReadPolicy, o: ContainerReadOptions): Promise<CachedValue<Record<string, ContainerReport>>> {
  const entryKey = containersKey(env);
  const read = (ids: string[]) => readBackendReports(env, ids, { timeoutMs: o.timeoutMs, signal: p.signal, tcpProbe: o.tcpProbe });
  const load = async (): Promise<BackendReportsEntry> => {
    const { instanceIds, reports } = await reportsOfRunning(read, o.instanceIds, knownRunningIds(env));
    const passwordVersion = await o.passwordVersion();
    if (o.tcpProbe) primeTcpReports(env, instanceIds, o.tcpProbe, reports);
    const containers = Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, r.container]));
    if (Object.values(containers).some((r) => !r.ok)) throw new IncompleteReports(containers);
    return { instanceIds, passwordVersion, reports: containers };
  };
  const matches = async (e: BackendReportsEntry) => {
    const [ids, version] = await Promise.all([o.instanceIds(), o.passwordVersion()]);
    return sameIds(e.instanceIds, ids) && e.passwordVersion === version;
  };
  const startedAt = Date.now();
  try {
    let entry = await cached(entryKey, BACKEND_REPORT_TTL_MS, load, { fresh: p.fresh });
    if (!(await matches(entry.value))) entry = await cached(entryKey, BACKEND_REPORT_TTL_MS, load, { fresh: true });
    return { value: entry.value.reports, fetchedAt: entry.fetchedAt };
  } catch (err) {
    if (err instanceof IncompleteReports) return { value: err.reports, fetchedAt: startedAt };
    throw err;
  }
}

/** The running instances of the last good DescribeInstances, however old: empty before the first. */
function knownRunningIds(env: AwsEnvironmentConfig): string[] {
  return (lastGoodValue<BackendInstance[]>(backendInstancesKey(env))?.value ?? []).filter((i) => i.state === 'running').map((i) => i.id);
}

/**
 * The reports of the instances running now. The instances known from the last DescribeInstances are
 * asked at once, while this run's DescribeInstances is in flight; then only those its answer adds,
 * and the reports of instances no longer running are dropped. Nothing known (the first status): the
 * instances first, then the command.
 */
async function reportsOfRunning(
  read: (ids: string[]) => Promise<Record<string, BackendReport>>,
  running: () => Promise<string[]>,
  known: string[],
): Promise<{ instanceIds: string[]; reports: Record<string, BackendReport> }> {
  if (known.length === 0) {
    const instanceIds = await running();
    return { instanceIds, reports: await read(instanceIds) };
  }
  const early = read(known).then(
    (reports) => ({ reports }),
    (error: unknown) => ({ error }),
  );
  const instanceIds = await running();
  const added = instanceIds.filter((id) => !known.includes(id));
  const [guessed, more] = await Promise.all([early, read(added)]);
  let reports: Record<string, BackendReport>;
  if ('reports' in guessed) reports = guessed.reports;
  // Asking the same instances again would get the same refusal.
  else if (known.every((id) => instanceIds.includes(id))) throw guessed.error;
  // A known instance that stopped makes SendCommand refuse the whole command: ask those still running.
  else reports = await read(instanceIds.filter((id) => known.includes(id)));
  const all = { ...reports, ...more };
  return { instanceIds, reports: Object.fromEntries(instanceIds.flatMap((id) => (all[id] ? [[id, all[id]]] : []))) };
}

/** After a restart: the started-at times and states cached for the environment are wrong now. */
export function invalidateContainerStates(env: AwsEnvironmentConfig): void {
  invalidateAfterWrite(env, ['containers']);
}

/** Reads the console's own writes change. */
export type WrittenRead = 'parameters' | 'db-instance' | 'containers';

const writeGenerations = processWide('aws.readers.writeGenerations', () => new Map<string, number>());

/**
 * After the console itself changed an environment (a rotation step, a restart), so the operator sees
 * their own action at once: the reads it changed are dropped, and the environment's write generation
 * moves on, so nothing computed from the old reads (a cached status) is served again.
 */
export function invalidateAfterWrite(env: AwsEnvironmentConfig, what: readonly WrittenRead[]): void {
  const keys: Record<WrittenRead, string> = {
    parameters: parametersKey(env),
    'db-instance': key(env, 'db-instance', env.rdsInstanceId),
    containers: containersKey(env),
  };
  for (const w of what) invalidateCache(keys[w]);
  writeGenerations.set(env.name, writeGeneration(env.name) + 1);
}

/** How many times the console changed the environment; part of the key of whatever is computed from its reads. */
export function writeGeneration(environment: string): number {
  return writeGenerations.get(environment) ?? 0;
}

function containersKey(env: AwsEnvironmentConfig): string {
  return key(env, 'containers', env.name);
}

/** `nc` from each instance to the database: a diagnosis's question, answered by its own command unless the container read carried it. */
export async function backendTcp(env: AwsEnvironmentConfig, p: ReadPolicy, instanceIds: string[], probe: TcpProbeRequest): Promise<CachedValue<Record<string, TcpReport>>> {
  return cached(
    tcpKey(env, instanceIds, probe),
    p.ttlMs * SLOW_ANSWER_TTL_FACTOR,
    async () => {
      const reports = await readBackendReports(env, instanceIds, { timeoutMs: probe.waitSeconds * 1000 + 2000, signal: p.signal, tcpProbe: probe, inspect: false });
      return Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, r.tcp!]));
    },
    { fresh: p.fresh },
  );
}

function tcpKey(env: AwsEnvironmentConfig, instanceIds: string[], probe: TcpProbeRequest): string {
  return key(env, 'backend-tcp', [...instanceIds].sort(), probe.host, probe.port);
}

function primeTcpReports(env: AwsEnvironmentConfig, instanceIds: string[], probe: TcpProbeRequest, reports: Record<string, BackendReport>): void {
  const tcp = Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, r.tcp!]));
  // Only a complete answer is worth keeping; otherwise the step asks again.
  if (Object.values(tcp).every((t) => t?.ok)) primeCache(tcpKey(env, instanceIds, probe), tcp, Date.now(), BACKEND_REPORT_TTL_MS);
}

export function agentPings(env: AwsEnvironmentConfig, p: ReadPolicy, instanceIds: string[]): Promise<CachedValue<Record<string, string>>> {
  return cached(key(env, 'agents', [...instanceIds].sort()), p.ttlMs, () => describeAgentPings(env, instanceIds, { signal: p.signal }), { fresh: p.fresh });
}

export function profileRole(env: AwsEnvironmentConfig, p: ReadPolicy, profileArn: string): Promise<CachedValue<string | null>> {
  return cached(key(env, 'profile-role', profileArn), p.ttlMs * SLOW_ANSWER_TTL_FACTOR, () => instanceProfileRole(env, profileArn, { signal: p.signal }), { fresh: p.fresh });
}

export function simulation(
  env: AwsEnvironmentConfig,
  p: ReadPolicy,
  principalArn: string,
  checks: Array<{ action: string; resource: string }>,
): Promise<CachedValue<SimulatedDecision[]>> {
  return cached(key(env, 'simulation', principalArn, checks), p.ttlMs * SLOW_ANSWER_TTL_FACTOR, () => simulatePrincipalPolicy(env, principalArn, checks, { signal: p.signal }), {
    fresh: p.fresh,
  });
}

class IncompleteReports extends Error {
  constructor(readonly reports: Record<string, ContainerReport>) {
    super('some container states could not be read');
  }
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join(',') === [...b].sort().join(',');
}
