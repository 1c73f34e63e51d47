import 'server-only';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type Generated } from 'kysely';
import pg from 'pg';
import { processWide } from '@/lib/process-wide';

// The console's own state: the audit log, the per-environment lock, and the progress of rotations and
// redeploys. One store for all of it, so "who holds the lock" and "what happened" never disagree.
// SQLite (one console) by default; PostgreSQL when AUDIT_DATABASE_URL is set (several replicas share
// it, and the lock is then what keeps two replicas from rotating the same environment).
// Nothing secret is ever written here: passwords live only in SSM.

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

export interface StoreSchema {
  audit_log: AuditTable;
  console_locks: LockTable;
  rotations: RotationTable;
  redeploys: RedeployTable;
}

export interface Store {
  db: Kysely<StoreSchema>;
  kind: 'sqlite' | 'postgres';
  /** Where it lives, for messages; a PostgreSQL URL is shown without its password. */
  location: string;
  destroy(): Promise<void>;
}

export interface StoreOptions {
  databaseUrl?: string;
  sqlitePath?: string;
}

export function storeOptionsFromEnv(): StoreOptions {
  const databaseUrl = process.env.AUDIT_DATABASE_URL?.trim();
  if (databaseUrl) return { databaseUrl };
  return { sqlitePath: process.env.AUDIT_SQLITE_PATH?.trim() || '.data/console.sqlite' };
}

/** Opens a store and creates its tables if they do not exist yet. Most code uses getStore(). */
export async function openStore(options: StoreOptions): Promise<Store> {
  let store: Store;
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 5, connectionTimeoutMillis: 5000 });
    // A broken idle connection must not crash the console; the next query reports the problem.
    pool.on('error', () => {});
    const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
    store = { db, kind: 'postgres', location: redactUrl(options.databaseUrl), destroy: () => db.destroy() };
  } else {
    const path = resolve(/*turbopackIgnore: true*/ options.sqlitePath ?? '.data/console.sqlite');
    mkdirSync(dirname(path), { recursive: true });
    const database = new Database(path);
    // WAL lets the console read progress while a rotation writes it; busy_timeout lets two processes
    // (a crashed console's successor, a test) share the file without SQLITE_BUSY.
    database.pragma('journal_mode = WAL');
    database.pragma('busy_timeout = 5000');
    const db = new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database }) });
    store = { db, kind: 'sqlite', location: path, destroy: () => db.destroy() };
  }
  try {
    await createTables(store);
  } catch (err) {
    await store.destroy().catch(() => {});
    throw new Error(`cannot prepare the console's audit store at ${store.location}: ${(err as Error).message}`);
  }
  return store;
}

const shared = processWide('audit.store', (): { current?: { key: string; store: Promise<Store> } } => ({}));

/** The process's store, opened on first use from AUDIT_DATABASE_URL / AUDIT_SQLITE_PATH. */
export function getStore(): Promise<Store> {
  const options = storeOptionsFromEnv();
  const key = JSON.stringify(options);
  if (shared.current?.key !== key) {
    const store = openStore(options);
    shared.current = { key, store };
    // A failed open is retried on the next call instead of being remembered forever.
    store.catch(() => {
      if (shared.current?.store === store) shared.current = undefined;
    });
  }
  return shared.current.store;
}

/** For tests that switch stores between cases. */
export async function closeStoreForTests(): Promise<void> {
  const current = shared.current;
  shared.current = undefined;
  if (current) await (await current.store.catch(() => undefined))?.destroy();
}

async function createTables(store: Store): Promise<void> {
  const { db, kind } = store;
  const create = async (trx: Kysely<StoreSchema>) => {
    await trx.schema
      .createTable('audit_log')
      .ifNotExists()
      .addColumn('id', kind === 'postgres' ? 'bigserial' : 'integer', (c) => (kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('actor', 'text', (c) => c.notNull())
      .addColumn('role', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('environment', 'text')
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('detail', 'text')
      .addColumn('step_timings', 'text')
      .execute();
    await trx.schema.createIndex('audit_log_environment_at').ifNotExists().on('audit_log').columns(['environment', 'at']).execute();
    await trx.schema
      .createTable('console_locks')
      .ifNotExists()
      .addColumn('environment', 'text', (c) => c.primaryKey())
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('operation', 'text', (c) => c.notNull())
      .addColumn('operation_id', 'text', (c) => c.notNull())
      .addColumn('held_by', 'text', (c) => c.notNull())
      .addColumn('since', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .execute();
    await trx.schema
      .createTable('rotations')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('started_by', 'text', (c) => c.notNull())
      .addColumn('role', 'text')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('error', 'text')
      .addColumn('steps', 'text', (c) => c.notNull())
      .addColumn('pending_version', 'integer')
      .execute();
    await trx.schema.createIndex('rotations_environment_started').ifNotExists().on('rotations').columns(['environment', 'started_at']).execute();
    await trx.schema
      .createTable('redeploys')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('environment', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('started_by', 'text', (c) => c.notNull())
      .addColumn('role', 'text')
      .addColumn('started_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('finished_at', 'text')
      .addColumn('error', 'text')
      .addColumn('image_tag', 'text')
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('instances', 'text', (c) => c.notNull())
      .execute();
    await trx.schema.createIndex('redeploys_environment_started').ifNotExists().on('redeploys').columns(['environment', 'started_at']).execute();
  };
  if (kind === 'postgres') {
    // Two replicas starting together would race on CREATE TABLE IF NOT EXISTS (a duplicate pg_type row);
    // a transaction-scoped advisory lock makes the second one wait and then find the tables.
    await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(7405126)`.execute(trx);
      await create(trx);
    });
  } else {
    await create(db);
  }
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '****';
    return u.toString();
  } catch {
    return '(an unparseable database URL)';
  }
}
