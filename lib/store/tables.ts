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

/** Owner: lib/watcher (lease.ts). The one row names the replica that runs the watcher. */
export interface WatchLeaseTable {
  name: string;
  owner: string;
  since: string;
  expires_at: string;
}

/** Owner: lib/watcher (observe.ts). What the watcher last saw of an environment and last announced. */
export interface WatchStateTable {
  environment: string;
  /** Bumped by every write; a write that finds another version lost a race with another replica. */
  version: number;
  overall: string;
  root_cause: string | null;
  /** JSON: check id → its status and summary at the last look. */
  checks: string;
  /** When the status the watcher read was computed. */
  checked_at: string;
  /** When the watcher last looked (coverage: a gap after it is "no data"). */
  looked_at: string;
  /** The last look whose status was not "could not check". */
  last_success_at: string | null;
  password_changed_at: string | null;
  /** Flap damping: the state seen last ("broken:sg.backend-ingress") and how many looks in a row saw it. */
  observed: string;
  observed_count: number;
  /** The state last announced to the webhooks; null before the first. */
  announced: string | null;
  announced_at: string | null;
  /** The scheduler's last attempt, the rotation it started (until its end is announced), the last skip it audited. */
  rotation_attempted_at: string | null;
  rotation_id: string | null;
  rotation_skipped: string | null;
}

/** Owner: lib/watcher (observe.ts). A row each time an environment's overall state or a check's status changed. */
export interface WatchHistoryTable {
  id: Generated<number>;
  environment: string;
  /** "overall" or a check id. */
  subject: string;
  /** An overall state, "no-data" (the watcher was not running), or a check status. */
  state: string;
  root_cause: string | null;
  summary: string | null;
  at: string;
}

/** Owner: lib/watcher (outbox.ts). One row per notification and webhook, until delivered or given up. */
export interface NotificationOutboxTable {
  id: string;
  /** The notification's id, the same for every webhook it goes to. */
  event_id: string;
  environment: string | null;
  /** The webhook's name; its URL (a secret) is looked up when sending and never stored here. */
  target: string;
  /** JSON: the notification, never a secret. */
  payload: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

export interface StoreSchema {
  audit_log: AuditTable;
  console_locks: LockTable;
  rotations: RotationTable;
  redeploys: RedeployTable;
  console_sessions: SessionTable;
  sign_in_failures: SignInFailureTable;
  watch_lease: WatchLeaseTable;
  watch_state: WatchStateTable;
  watch_history: WatchHistoryTable;
  notification_outbox: NotificationOutboxTable;
}
