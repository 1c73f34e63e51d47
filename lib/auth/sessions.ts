import 'server-only';
import { createHash, randomBytes } from 'node:crypto';
import { recordAuditSafely } from '@/lib/audit';
import { getConfig } from '@/lib/config/load';
import { AuthorizationError, hasRole, resolveRole, type Caller } from '@/lib/roles';
import { getStore, type SessionTable } from '@/lib/store';
import { nowInSeconds, SESSION_MAX_AGE_SECONDS, sessionVerdict } from './session-lifetime';

// Server-side sessions: the browser's cookie carries only a random session id, and every request
// (page, server action, route handler, next-auth's own session endpoint) looks the session up here.
// So signing out ends it everywhere, an admin can end a person's sessions, idle and absolute
// timeouts hold whatever the cookie says, and the role is the current config's, not the one at
// sign-in. This module alone writes `console_sessions`.

/** Who signed in, as the ID token said it (lib/auth/oidc.ts checked it). */
export interface SignedInIdentity {
  subject: string;
  email: string;
  name: string | null;
  groups: string[];
  /** The ID token's auth_time, epoch seconds; null when the IdP did not say. */
  authTime: number | null;
}

export type SessionKind = 'sign-in' | 're-authentication';

export interface SessionRecord extends SignedInIdentity {
  kind: SessionKind;
  startedAt: number;
  lastSeenAt: number;
  address: string | null;
}

/** The signed-in session as pages, actions and route handlers see it. */
export interface SessionInfo {
  caller: Caller;
  /** When the person last typed their password at the IdP (ID token auth_time), epoch seconds; null when unknown. */
  authTime: number | null;
  /** A sign-in made while signed in, to confirm it is still them (rotate, restart). */
  kind: SessionKind;
}

/** Session rows (ended or not) are kept this long after sign-in, then deleted as new ones arrive. */
const KEEP_SECONDS = 30 * 24 * 60 * 60;

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();
const seconds = (value: string) => Math.floor(Date.parse(value) / 1000);

/** The store keeps a hash: a copy of the table is not a set of cookies. */
function storedId(sessionId: string): string {
  return createHash('sha256').update(sessionId, 'utf8').digest('hex');
}

function toRecord(row: SessionTable): SessionRecord {
  let groups: unknown;
  try {
    groups = JSON.parse(row.groups);
  } catch {
    groups = [];
  }
  return {
    subject: row.subject,
    email: row.email,
    name: row.name,
    groups: Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [],
    authTime: row.auth_time === null ? null : seconds(row.auth_time),
    kind: row.kind === 're-authentication' ? 're-authentication' : 'sign-in',
    startedAt: seconds(row.started_at),
    lastSeenAt: seconds(row.last_seen_at),
    address: row.address,
  };
}

/** Records a new session and returns its id, the only thing the cookie will hold. */
export async function startSession(identity: SignedInIdentity, opts: { kind: SessionKind; address: string | null }, now = nowInSeconds()): Promise<string> {
  const sessionId = randomBytes(32).toString('base64url');
  const store = await getStore();
  await store.db
    .insertInto('console_sessions')
    .values({
      id: storedId(sessionId),
      email: identity.email,
      name: identity.name,
      subject: identity.subject,
      groups: JSON.stringify(identity.groups),
      auth_time: identity.authTime === null ? null : iso(identity.authTime),
      kind: opts.kind,
      started_at: iso(now),
      last_seen_at: iso(now),
      address: opts.address,
      ended_at: null,
      end_reason: null,
    })
    .execute();
  await store.db.deleteFrom('console_sessions').where('started_at', '<', iso(now - KEEP_SECONDS)).execute();
  return sessionId;
}

/** The session while it lasts; an idle or expired one is ended here, on the server. */
export async function findActiveSession(sessionId: string, now = nowInSeconds()): Promise<SessionRecord | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('console_sessions').selectAll().where('id', '=', storedId(sessionId)).where('ended_at', 'is', null).executeTakeFirst();
  if (!row) return null;
  const record = toRecord(row);
  const verdict = sessionVerdict(record, now);
  if (verdict === 'active') return record;
  await endSession(sessionId, verdict === 'idle' ? 'idle for 30 minutes' : 'expired 8 hours after sign-in', now);
  return null;
}

/**
 * The session with the role the config grants right now, or null: signed out, ended, idle, expired,
 * or no longer granted a role (then it is ended, and audited, so the person has to sign in again).
 */
export async function resolveSession(sessionId: string, now = nowInSeconds()): Promise<SessionInfo | null> {
  const record = await findActiveSession(sessionId, now);
  if (!record) return null;
  const role = resolveRole(getConfig().roles, record);
  if (!role) {
    await endSession(sessionId, 'no role in the config', now);
    await recordAuditSafely({ actor: record.email, role: null, action: 'session.end', environment: null, outcome: 'success', detail: 'the console config no longer grants them a role' });
    return null;
  }
  return { caller: { id: record.email, role, via: 'session' }, authTime: record.authTime, kind: record.kind };
}

/** Operator activity (a click, a key press): the idle timeout counts from here. */
export async function touchSession(sessionId: string, now = nowInSeconds()): Promise<void> {
  const store = await getStore();
  await store.db.updateTable('console_sessions').set({ last_seen_at: iso(now) }).where('id', '=', storedId(sessionId)).where('ended_at', 'is', null).execute();
}

export async function endSession(sessionId: string, reason: string, now = nowInSeconds()): Promise<void> {
  const store = await getStore();
  await store.db.updateTable('console_sessions').set({ ended_at: iso(now), end_reason: reason }).where('id', '=', storedId(sessionId)).where('ended_at', 'is', null).execute();
}

export interface PersonSessions {
  email: string;
  name: string | null;
  /** The role the config grants them now (null: none; their sessions end at their next request). */
  role: Caller['role'] | null;
  sessions: Array<{ startedAt: string; lastSeenAt: string; authTime: string | null; address: string | null }>;
}

/** Everyone with a session that has not ended or timed out, for the admin's sessions page. */
export async function listActiveSessions(caller: Caller | null, now = nowInSeconds()): Promise<PersonSessions[]> {
  if (!hasRole(caller, 'admin')) throw new AuthorizationError('admin', caller ?? null);
  const store = await getStore();
  const rows = await store.db
    .selectFrom('console_sessions')
    .selectAll()
    .where('ended_at', 'is', null)
    // Only sessions young enough to be alive: the table keeps the ended and expired ones for the record.
    .where('started_at', '>', iso(now - SESSION_MAX_AGE_SECONDS))
    .orderBy('started_at', 'desc')
    .execute();
  const roles = getConfig().roles;
  const people = new Map<string, PersonSessions>();
  for (const row of rows) {
    const record = toRecord(row);
    if (sessionVerdict(record, now) !== 'active') continue;
    const person = people.get(record.email) ?? { email: record.email, name: record.name, role: resolveRole(roles, record), sessions: [] };
    person.sessions.push({ startedAt: row.started_at, lastSeenAt: row.last_seen_at, authTime: row.auth_time, address: row.address });
    people.set(record.email, person);
  }
  return [...people.values()].sort((a, b) => a.email.localeCompare(b.email));
}

/** Ends every session of one person, at their next request; returns how many were open. */
export async function endSessionsOf(caller: Caller | null, email: string, now = nowInSeconds()): Promise<number> {
  if (!hasRole(caller, 'admin')) throw new AuthorizationError('admin', caller ?? null);
  const store = await getStore();
  const result = await store.db
    .updateTable('console_sessions')
    .set({ ended_at: iso(now), end_reason: `ended by ${caller.id}` })
    .where('email', '=', email.trim().toLowerCase())
    .where('ended_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}
