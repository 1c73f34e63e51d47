import 'server-only';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { getStore, type Store } from '@/lib/store';
import { processWide } from '@/lib/process-wide';
import type { LockedOperation } from './types';

// The console-wide lock: one dangerous operation (a rotation or a redeploy) per environment at a time, across every console
// replica sharing the store. The lock is a lease: the holder renews it while it works, so a console
// that crashed stops blocking once the lease runs out — or at once, when the store can see that the
// holder's process on this same machine is gone.

/**
 * How long a lock outlives its holder's last renewal, from OPS_LOCK_LEASE_SECONDS (default 120). Every
 * replica must use the same: a replica takes over a rotation once this has passed without renewal.
 */
export const LOCK_LEASE_MS = leaseFromEnv(process.env.OPS_LOCK_LEASE_SECONDS);
const RENEW_EVERY_MS = LOCK_LEASE_MS / 4;

function leaseFromEnv(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === '') return 120_000;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 2 || seconds > 3600) {
    throw new Error(`OPS_LOCK_LEASE_SECONDS=${raw} is not valid: use a whole number of seconds from 2 to 3600 (default 120)`);
  }
  return seconds * 1000;
}

export interface LockHolder {
  by: string;
  since: string;
  operation: LockedOperation;
  operationId: string;
}

/**
 * This process, as a lock owner: host, pid, and a token so a reused pid is never mistaken for us.
 * One per process, not per bundle (lib/process-wide).
 */
const PROCESS_OWNER = processWide('lock.owner', () => `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`);

export class HeldLock {
  private timer: NodeJS.Timeout | undefined;
  private lostReason: string | undefined;

  constructor(
    private readonly store: Store,
    readonly environment: string,
    readonly operation: LockedOperation,
    readonly operationId: string,
  ) {}

  /** Set when a renewal found the lock taken over; the work must stop before its next step. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  startRenewing(): void {
    this.timer = setInterval(() => {
      void this.renew().catch((err) => {
        // A store hiccup is not a loss; the lease still has three renewals of slack.
        console.error(`lock: renewing ${this.environment} failed: ${(err as Error).message}`);
      });
    }, RENEW_EVERY_MS);
    this.timer.unref();
  }

  async renew(): Promise<boolean> {
    const rows = await this.store.db
      .updateTable('console_locks')
      .set({ expires_at: leaseEnd() })
      .where('environment', '=', this.environment)
      .where('owner', '=', PROCESS_OWNER)
      .where('operation_id', '=', this.operationId)
      .returning('owner')
      .execute();
    if (rows.length === 0) this.lostReason = `the lock on ${this.environment} was taken over by another console`;
    return rows.length > 0;
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.store.db
      .deleteFrom('console_locks')
      .where('environment', '=', this.environment)
      .where('owner', '=', PROCESS_OWNER)
      .where('operation_id', '=', this.operationId)
      .execute();
  }
}

export type AcquireResult = { ok: true; lock: HeldLock } | { ok: false; heldBy: LockHolder };

/**
 * Takes the environment's lock in one conditional statement (insert, or take over an expired lease),
 * so two replicas asking at the same moment can never both win.
 */
export async function acquireLock(environment: string, operation: LockedOperation, operationId: string, heldBy: string): Promise<AcquireResult> {
  const store = await getStore();
  const now = new Date().toISOString();
  const row = { environment, owner: PROCESS_OWNER, operation, operation_id: operationId, held_by: heldBy, since: now, expires_at: leaseEnd() };
  const won = await store.db
    .insertInto('console_locks')
    .values(row)
    .onConflict((oc) =>
      oc.column('environment').doUpdateSet({
        owner: row.owner,
        operation: row.operation,
        operation_id: row.operation_id,
        held_by: row.held_by,
        since: row.since,
        expires_at: row.expires_at,
      }).where('console_locks.expires_at', '<', now),
    )
    .returning('owner')
    .execute();
  if (won.length > 0) return { ok: true, lock: new HeldLock(store, environment, operation, operationId) };

  const holder = await store.db.selectFrom('console_locks').selectAll().where('environment', '=', environment).executeTakeFirst();
  if (!holder) return acquireLock(environment, operation, operationId, heldBy); // released meanwhile
  if (ownerIsDeadHere(holder.owner)) {
    const taken = await store.db
      .updateTable('console_locks')
      .set({ owner: row.owner, operation: row.operation, operation_id: row.operation_id, held_by: row.held_by, since: row.since, expires_at: row.expires_at })
      .where('environment', '=', environment)
      .where('owner', '=', holder.owner)
      .returning('owner')
      .execute();
    if (taken.length > 0) return { ok: true, lock: new HeldLock(store, environment, operation, operationId) };
    return acquireLock(environment, operation, operationId, heldBy);
  }
  return { ok: false, heldBy: toHolder(holder) };
}

export async function currentLock(environment: string): Promise<(LockHolder & { expiresAt: string; holderAlive: boolean }) | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('console_locks').selectAll().where('environment', '=', environment).executeTakeFirst();
  if (!row) return null;
  const holderAlive = row.expires_at >= new Date().toISOString() && !ownerIsDeadHere(row.owner);
  return { ...toHolder(row), expiresAt: row.expires_at, holderAlive };
}

function toHolder(row: { held_by: string; since: string; operation: string; operation_id: string }): LockHolder {
  return { by: row.held_by, since: row.since, operation: row.operation as LockedOperation, operationId: row.operation_id };
}

function leaseEnd(): string {
  return new Date(Date.now() + LOCK_LEASE_MS).toISOString();
}

/** True only when the owner ran on this machine and its process is gone (a crashed console). */
function ownerIsDeadHere(owner: string): boolean {
  const [host, pidText, token] = owner.split('/');
  if (host !== hostname() || !pidText || !token) return false;
  if (owner === PROCESS_OWNER) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true; // our pid with another token: an earlier process whose pid we reuse
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
