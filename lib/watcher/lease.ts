import 'server-only';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { sql } from 'kysely';
import { processWide } from '@/lib/process-wide';
import { getStore } from '@/lib/store';

// Which replica runs the watcher: the holder of one lease row in the store. Every replica asks at
// every look, in one conditional upsert (take it when free or expired, renew it when ours), so two
// replicas never both win a round; a leader that dies stops renewing and another takes over when
// the lease runs out. A slow leader that lost the lease mid-look is harmless: what it writes is
// guarded by the watch state's version (observe.ts) and the outbox's claims (outbox.ts).

const LEASE = 'watcher';

/** This process as a lease holder: host, pid and a token, so a reused pid is never mistaken for us. */
export const WATCHER_OWNER = processWide('watcher.owner', () => `${hostname()}/${process.pid}/${randomBytes(6).toString('hex')}`);

/** Takes or renews the lease for `leaseMs`; true while this process holds it. */
export async function holdLease(leaseMs: number, owner = WATCHER_OWNER, now = new Date()): Promise<boolean> {
  const store = await getStore();
  const at = now.toISOString();
  const expires = new Date(now.getTime() + leaseMs).toISOString();
  const won = await store.db
    .insertInto('watch_lease')
    .values({ name: LEASE, owner, since: at, expires_at: expires })
    .onConflict((oc) =>
      oc
        .column('name')
        .doUpdateSet({
          owner,
          expires_at: expires,
          since: sql<string>`case when watch_lease.owner = ${owner} then watch_lease.since else ${at} end`,
        })
        .where((eb) => eb.or([eb('watch_lease.owner', '=', owner), eb('watch_lease.expires_at', '<', at)])),
    )
    .returning('owner')
    .execute();
  return won.length > 0;
}

/** Gives the lease up (a console shutting down), so another replica need not wait for it to run out. */
export async function releaseLease(owner = WATCHER_OWNER): Promise<void> {
  const store = await getStore();
  await store.db.deleteFrom('watch_lease').where('name', '=', LEASE).where('owner', '=', owner).execute();
}

export interface LeaderView {
  owner: string;
  since: string;
  expiresAt: string;
  /** False once the lease ran out: no replica is watching until one takes it. */
  live: boolean;
}

export async function currentLeader(now = new Date()): Promise<LeaderView | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('watch_lease').selectAll().where('name', '=', LEASE).executeTakeFirst();
  return row ? { owner: row.owner, since: row.since, expiresAt: row.expires_at, live: row.expires_at >= now.toISOString() } : null;
}
