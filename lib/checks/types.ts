// The one check-result type, shared by the status page, the JSON API, runbooks and tests.
// Ids and meanings are DESIGN.md's check vocabulary, extended in docs/ARCHITECTURE.md. The order
// breaks ties in the root cause: a cause before its symptom (containers.fresh-credentials before
// containers.health, the per-instance paths before net.tcp).

export const CHECK_IDS = [
  'ssm.parameters',
  'ssm.password-type',
  'ssm.password-age',
  'rds.status',
  'rds.endpoint-match',
  'rds.username-match',
  'rds.private',
  'sg.backend-ingress',
  'sg.no-public-ingress',
  'net.instance-security-groups',
  'net.network-acls',
  'net.tcp',
  'db.login',
  'db.backend-credentials',
  'containers.running',
  'containers.fresh-credentials',
  'containers.health',
  'local.database-url',
] as const;

export type CheckId = (typeof CHECK_IDS)[number];

/**
 * pass/warn/fail are verdicts about LinkBox; `skip` means a check it depends on failed;
 * `error` means the console could not find out (throttled, denied, timed out) — never a verdict.
 */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip' | 'error';

/** A key/value shown as evidence; values are plain strings so a DTO can never carry an SDK object. */
export type Evidence = Record<string, string | number | boolean | null>;

export interface CheckFix {
  /** What to do, in the operator's words. */
  summary: string;
  /** The exact command(s) for this environment, copyable. Never contains a secret. */
  commands?: string[];
}

/** What a check or a runbook step decides: the one result type of the runner (lib/checks/run.ts). */
export interface Verdict {
  status: CheckStatus;
  summary: string;
  evidence: Evidence;
  fix?: CheckFix;
}

export interface CheckResult<Id extends string = CheckId> extends Verdict {
  id: Id;
  /** How long the check took, in ms. */
  durationMs?: number;
}

/** What the page may say about the password: metadata only, never its value. */
export interface PasswordFacts {
  type: string | null;
  version: number | null;
  /** ISO time of the last change. */
  lastModified: string | null;
}

/** What the page may say about one backend instance: what it runs, and whether the VPC lets it reach the database. */
export interface BackendFacts {
  id: string;
  name: string | null;
  /** EC2's state: running, stopped... */
  state: string | null;
  /** Docker's status of its container (running, exited, missing); null when it could not be read. */
  container: string | null;
  /** Its path to the database as the security groups and network ACLs decide it; null when not evaluated. */
  path: 'open' | 'dropped' | 'unknown' | null;
}

export type OverallStatus = 'healthy' | 'degraded' | 'broken' | 'unknown';

export interface EnvironmentStatus {
  environment: string;
  kind: 'aws' | 'local';
  overall: OverallStatus;
  /** The first failing check in dependency order, or null when nothing fails. */
  rootCause: CheckId | null;
  /** ISO time the data was fetched (may be older than now when served from cache). */
  checkedAt: string;
  /** True when the data is older than the cache TTL; `staleReason` says why it was not refreshed. */
  stale: boolean;
  staleReason?: string;
  checks: CheckResult[];
  /** Typed facts the page shows beside the checks; null when SSM could not be read. */
  password: PasswordFacts | null;
  /** Each backend instance as the checks saw it (AWS environments; absent when the instances could not be read). */
  backends?: BackendFacts[];
}
