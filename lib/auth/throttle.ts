import 'server-only';
import { recordAuditSafely } from '@/lib/audit';
import { getStore } from '@/lib/store';
import type { SessionKind } from './sessions';
import { nowInSeconds } from './session-lifetime';

// Failed sign-ins and re-authentications, limited per account and per client address. The IdP checks
// passwords; the console sees what reaches it: sign-ins it refuses (email not verified, no role, an
// authorization response that does not verify) and re-authentications the IdP let through without
// asking again. The failures are kept in the store, not in this process, so the limit holds across
// replicas, restarts and fresh sign-ins. This module alone writes `sign_in_failures`.

export const THROTTLE_WINDOW_SECONDS = 15 * 60;
/** Per account: a person retrying is fine, a script is not. */
export const MAX_FAILURES_PER_ACCOUNT = 5;
/** Per client address: an office behind one NAT signs in from one address. */
export const MAX_FAILURES_PER_ADDRESS = 20;
/** Failures older than this are deleted as new ones arrive. */
const KEEP_SECONDS = 24 * 60 * 60;

export interface SignInFailure {
  kind: SessionKind;
  /** The IdP account (email), when the failure names one. */
  account: string | null;
  address: string | null;
  /** The console's words, for the audit log; never a token or anything the client sent. */
  reason: string;
}

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** Counts the failure towards both limits and audits it. */
export async function recordSignInFailure(failure: SignInFailure, now = nowInSeconds()): Promise<void> {
  const store = await getStore();
  await store.db
    .insertInto('sign_in_failures')
    .values({ at: iso(now), kind: failure.kind, account: failure.account, address: failure.address, reason: failure.reason.slice(0, 500) })
    .execute();
  await store.db.deleteFrom('sign_in_failures').where('at', '<', iso(now - KEEP_SECONDS)).execute();
  await auditSignIn(failure);
}

/** A sign-in, re-authentication or sign-out for the audit log, refused unless said otherwise. */
export interface SignInEvent extends Omit<SignInFailure, 'kind'> {
  kind: SessionKind | 'sign-out';
  outcome?: 'refused' | 'success';
}

export async function auditSignIn(entry: SignInEvent): Promise<void> {
  await recordAuditSafely({
    actor: entry.account ?? 'anonymous',
    role: null,
    action: entry.kind,
    environment: null,
    outcome: entry.outcome ?? 'refused',
    detail: `${entry.reason}${entry.address ? ` (from ${entry.address})` : ''}`,
  });
}

export type ThrottleVerdict = { limited: false } | { limited: true; reason: string };

/** Whether sign-in is refused for this account or address until failures leave the window. */
export async function signInThrottle(who: { account?: string | null; address?: string | null }, now = nowInSeconds()): Promise<ThrottleVerdict> {
  const store = await getStore();
  const since = iso(now - THROTTLE_WINDOW_SECONDS);
  const count = async (column: 'account' | 'address', value: string) => {
    const row = await store.db
      .selectFrom('sign_in_failures')
      .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
      .where(column, '=', value)
      .where('at', '>', since)
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  };
  const minutes = THROTTLE_WINDOW_SECONDS / 60;
  if (who.account && (await count('account', who.account)) >= MAX_FAILURES_PER_ACCOUNT) {
    return { limited: true, reason: `refused: too many failed sign-ins for the account in ${minutes} minutes` };
  }
  if (who.address && (await count('address', who.address)) >= MAX_FAILURES_PER_ADDRESS) {
    return { limited: true, reason: `refused: too many failed sign-ins from the address in ${minutes} minutes` };
  }
  return { limited: false };
}
