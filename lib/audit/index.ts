import 'server-only';
import { AuthorizationError, hasRole, type Caller } from '@/lib/roles';
import { getStore } from '@/lib/store';

// The one audit writer. Every dangerous action records who did what to which environment and how it
// ended, including refusals. Callers pass plain descriptions; never a password, token or URL with one.

export type AuditOutcome = 'success' | 'failure' | 'refused';

export interface AuditInput {
  actor: string;
  role: string | null;
  action: string;
  environment: string | null;
  outcome: AuditOutcome;
  detail?: string;
  /** Step name → milliseconds it took. */
  stepTimings?: Record<string, number>;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  role: string | null;
  action: string;
  environment: string | null;
  outcome: AuditOutcome;
  detail: string | null;
  stepTimings: Record<string, number> | null;
}

const MAX_DETAIL = 2000;
const MAX_LIMIT = 1000;

export async function recordAudit(entry: AuditInput): Promise<void> {
  const store = await getStore();
  await store.db
    .insertInto('audit_log')
    .values({
      at: new Date().toISOString(),
      actor: entry.actor.slice(0, 320),
      role: entry.role,
      action: entry.action.slice(0, 100),
      environment: entry.environment,
      outcome: entry.outcome,
      detail: entry.detail === undefined ? null : entry.detail.slice(0, MAX_DETAIL),
      step_timings: entry.stepTimings ? JSON.stringify(entry.stepTimings) : null,
    })
    .execute();
}

/** Audits without letting a broken audit store hide the outcome of the action it describes. */
export async function recordAuditSafely(entry: AuditInput): Promise<void> {
  try {
    await recordAudit(entry);
  } catch (err) {
    console.error(`audit: could not record ${entry.action} (${entry.outcome}) for ${entry.environment ?? '-'}: ${(err as Error).message}`);
  }
}

/** Newest first. Everyone signed in may read the log; it holds no secret. */
export async function listAudit(caller: Caller | null, opts: { limit?: number; environment?: string } = {}): Promise<AuditEntry[]> {
  if (!hasRole(caller, 'viewer')) throw new AuthorizationError('viewer', caller ?? null);
  const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(opts.limit ?? 100)));
  const store = await getStore();
  let query = store.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(limit);
  if (opts.environment !== undefined) query = query.where('environment', '=', opts.environment);
  const rows = await query.execute();
  return rows.map((row) => ({
    id: Number(row.id),
    at: row.at,
    actor: row.actor,
    role: row.role,
    action: row.action,
    environment: row.environment,
    outcome: row.outcome as AuditOutcome,
    detail: row.detail,
    stepTimings: row.step_timings ? (JSON.parse(row.step_timings) as Record<string, number>) : null,
  }));
}

/** The actor/role pair for an audit entry, also for a caller who is not signed in. */
export function auditActor(caller: Caller | null | undefined): { actor: string; role: string | null } {
  return caller ? { actor: caller.id, role: caller.role } : { actor: 'anonymous', role: null };
}
