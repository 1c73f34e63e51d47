import 'server-only';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { processWide } from '@/lib/process-wide';
import { maskUrlPassword } from '@/lib/redact';
import { migrations, type Dialect } from './migrations';
import type { StoreSchema } from './tables';

// The console's own state, at the bottom of lib/: the connection, the migrations and the table
// types, and nothing of the console above it. Each table's owner (lib/audit, lib/operations, ...)
// reads and writes it through `getStore()`. SQLite (one console) by default; PostgreSQL when
// AUDIT_DATABASE_URL is set (several replicas share it, and its lock keeps two replicas from
// rotating the same environment). To add a table: a migration in ./migrations.ts, its type in ./tables.ts.

export type {
  StoreSchema,
  AuditTable,
  LockTable,
  RotationTable,
  RedeployTable,
  SessionTable,
  SignInFailureTable,
  WatchStateTable,
  WatchHistoryTable,
  NotificationOutboxTable,
} from './tables';

export interface Store {
  db: Kysely<StoreSchema>;
  kind: Dialect;
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

/** Opens a store and brings its schema to the latest migration. Most code uses getStore(). */
export async function openStore(options: StoreOptions): Promise<Store> {
  let store: Store;
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 5, connectionTimeoutMillis: 5000 });
    // A broken idle connection must not crash the console; the next query reports the problem.
    pool.on('error', () => {});
    const db = new Kysely<StoreSchema>({ dialect: new PostgresDialect({ pool }) });
    store = { db, kind: 'postgres', location: maskUrlPassword(options.databaseUrl), destroy: () => db.destroy() };
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
    await migrateToLatest(store);
  } catch (err) {
    await store.destroy().catch(() => {});
    throw new Error(`cannot prepare the console's store at ${store.location}: ${(err as Error).message}`);
  }
  return store;
}

async function migrateToLatest(store: Store): Promise<void> {
  const all = migrations(store.kind);
  const migrator = new Migrator({ db: store.db, provider: { getMigrations: async () => all } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? '(unknown)'} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

const shared = processWide('store', (): { current?: { key: string; store: Promise<Store> } } => ({}));

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
