import type { Generated } from 'kysely';

// The console's own tables, as kysely sees them. Each table has one owner above the store
// (named on it) that alone writes it; the migrations in ./migrations.ts create and change them.
// Nothing secret is ever written here: passwords live only in SSM.

/** Owner: lib/audit. */
export interface AuditTable {
  id: Generated<number>;
  at: string;
  actor: string;
  role: string | null;
  action: string;
  environment: string | null;
  outcome: string;
  detail: string | null;
  step_timings: string | null;
}

/** Owner: lib/operations (lock.ts). */
export interface LockTable {
  environment: string;
  /** The process that holds it (host/pid/token); only that process renews or releases it. */
  owner: string;
  operation: string;
  operation_id: string;
  held_by: string;
  since: string;
  expires_at: string;
}

/** Owner: lib/operations (records.ts). */
export interface RotationTable {
  id: string;
  environment: string;
  state: string;
  started_by: string;
  role: string | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
  /** JSON: the steps with their status, times and detail. */
  steps: string;
  /** The SSM version of the pending slot this rotation wrote; a different version means someone else wrote it. */
  pending_version: number | null;
}

/** Owner: lib/operations (records.ts). */
export interface RedeployTable {
  id: string;
  environment: string;
  state: string;
  started_by: string;
  role: string | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  error: string | null;
  image_tag: string | null;
  /** Why it ran: "operator" or "rotation <id>". */
  reason: string;
  /** JSON: per-instance progress. */
  instances: string;
}

/** Owner: lib/auth (sessions.ts). A signed-in session; the browser's cookie holds only its id. */
export interface SessionTable {
  /** SHA-256 of the session id, so a copy of the table cannot be replayed as cookies. */
  id: string;
  /** Verified by the IdP (email_verified), lower case. */
  email: string;
  name: string | null;
  /** The IdP's `sub`. */
  subject: string;
  /** JSON: the groups claim at sign-in. */
  groups: string;
  /** The ID token's auth_time: when the person last typed their password at the IdP; null when the IdP did not say. */
  auth_time: string | null;
  /** "sign-in", or "re-authentication": signed in again while signed in, to confirm it is them. */
  kind: string;
  started_at: string;
  /** Last activity; the idle timeout counts from here. */
  last_seen_at: string;
  /** The client address it signed in from. */
  address: string | null;
  ended_at: string | null;
  /** "signed out", "ended by admin@…", "idle", "expired", "no role", "replaced by a new sign-in". */
  end_reason: string | null;
}

/** Owner: lib/auth (throttle.ts). */
export interface SignInFailureTable {
  id: Generated<number>;
  at: string;
  /** "sign-in" or "re-authentication". */
  kind: string;
  /** The IdP account (email) when known. */
  account: string | null;
  address: string | null;
  reason: string;
}

export interface StoreSchema {
  audit_log: AuditTable;
  console_locks: LockTable;
  rotations: RotationTable;
  redeploys: RedeployTable;
  console_sessions: SessionTable;
  sign_in_failures: SignInFailureTable;
}
