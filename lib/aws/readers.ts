import 'server-only';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import { cached, invalidateCache, primeCache, type CachedValue } from './cache';
import { awsScope } from './clients';
import { describeBackendInstances, describeLinkboxSecurityGroups, type BackendInstance, type LinkboxSecurityGroups } from './ec2';
import { instanceProfileRole, simulatePrincipalPolicy, type SimulatedDecision } from './iam';
import { readLinkboxParameters, type LinkboxParameters } from './parameters';
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

/** What was read, then where from (the scope), then which resource: a prefix names one kind of read. */
function key(env: AwsEnvironmentConfig, what: string, ...parts: unknown[]): string {
  return `${what}|${awsScope(env)}|${JSON.stringify(parts)}`;
}

export function linkboxParameters(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<LinkboxParameters>> {
  return cached(key(env, 'parameters', env.parameterPrefix), p.ttlMs, () => readLinkboxParameters(env, { signal: p.signal }), { fresh: p.fresh });
}

export function databaseInstance(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<DatabaseInstance | null>> {
  return cached(key(env, 'db-instance', env.rdsInstanceId), p.ttlMs, () => describeDatabaseInstance(env, { signal: p.signal }), { fresh: p.fresh });
}

export function securityGroups(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<LinkboxSecurityGroups>> {
  return cached(key(env, 'security-groups', env.dbSecurityGroup, env.backendSecurityGroup), p.ttlMs, () => describeLinkboxSecurityGroups(env, { signal: p.signal }), {
    fresh: p.fresh,
  });
}

export function backendInstances(env: AwsEnvironmentConfig, p: ReadPolicy): Promise<CachedValue<BackendInstance[]>> {
  return cached(key(env, 'backend-instances', env.backendInstances), p.ttlMs, () => describeBackendInstances(env, { signal: p.signal }), { fresh: p.fresh });
}

interface BackendReportsEntry {
  instanceIds: string[];
  /** The db-password version when the state was read: a rotation makes the started-at times worth reading again. */
  passwordVersion: number | null;
  reports: Record<string, ContainerReport>;
}

export interface ContainerReadOptions {
  instanceIds: string[];
  passwordVersion: number | null;
  /** How long the Run Command may take. */
  timeoutMs: number;
  /** Also run `nc` to the database from each instance, in the same command (a diagnosis). */
  tcpProbe?: TcpProbeRequest;
}

/**
 * Each running instance's container state. A report that could not be read is never kept, so the
 * next status asks again; a restart (lib/operations) drops the entry outright.
 */
export async function containerStates(env: AwsEnvironmentConfig, p: ReadPolicy, o: ContainerReadOptions): Promise<CachedValue<Record<string, ContainerReport>>> {
  const entryKey = containersKey(env);
  const load = async (): Promise<BackendReportsEntry> => {
    const reports = await readBackendReports(env, o.instanceIds, { timeoutMs: o.timeoutMs, signal: p.signal, tcpProbe: o.tcpProbe });
    if (o.tcpProbe) primeTcpReports(env, o.instanceIds, o.tcpProbe, reports);
    const containers = Object.fromEntries(Object.entries(reports).map(([id, r]) => [id, r.container]));
    if (Object.values(containers).some((r) => !r.ok)) throw new IncompleteReports(containers);
    return { instanceIds: o.instanceIds, passwordVersion: o.passwordVersion, reports: containers };
  };
  const matches = (e: BackendReportsEntry) => sameIds(e.instanceIds, o.instanceIds) && e.passwordVersion === o.passwordVersion;
  const startedAt = Date.now();
  try {
    let entry = await cached(entryKey, BACKEND_REPORT_TTL_MS, load, { fresh: p.fresh });
    if (!matches(entry.value)) entry = await cached(entryKey, BACKEND_REPORT_TTL_MS, load, { fresh: true });
    return { value: entry.value.reports, fetchedAt: entry.fetchedAt };
  } catch (err) {
    if (err instanceof IncompleteReports) return { value: err.reports, fetchedAt: startedAt };
    throw err;
  }
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
    parameters: key(env, 'parameters', env.parameterPrefix),
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
