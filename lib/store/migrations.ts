import type { Kysely, Migration } from 'kysely';

// The store's schema, one kysely migration at a time (applied in name order by kysely's Migrator,
// under its lock, so two replicas starting together apply each once). Never edit a migration that
// has shipped: add the next one. The first ones use IF NOT EXISTS because stores created before
// migrations existed already hold these tables.

type AnyDb = Kysely<unknown>;

/** SQLite and PostgreSQL spell an auto-increment key differently. */
export type Dialect = 'sqlite' | 'postgres';

export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '0001-audit-log': {
      async up(db: AnyDb) {
        await db.schema
          .createTable('audit_log')
          .ifNotExists()
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor', 'text', (c) => c.notNull())
          .addColumn('role', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('environment', 'text')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('detail', 'text')
          .addColumn('step_timings', 'text')
          .execute();
        await db.schema.createIndex('audit_log_environment_at').ifNotExists().on('audit_log').columns(['environment', 'at']).execute();
      },
    },
    '0002-operations': {
      async up(db: AnyDb) {
        await db.schema
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
        await db.schema
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
        await db.schema.createIndex('rotations_environment_started').ifNotExists().on('rotations').columns(['environment', 'started_at']).execute();
        await db.schema
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
        await db.schema.createIndex('redeploys_environment_started').ifNotExists().on('redeploys').columns(['environment', 'started_at']).execute();
      },
    },
    '0003-sessions': {
      // Owner: lib/auth. Server-side sign-in sessions (the cookie carries only their id) and failed
      // sign-ins, which the throttle counts per account and per client address.
      async up(db: AnyDb) {
        await db.schema
          .createTable('console_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('name', 'text')
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('groups', 'text', (c) => c.notNull())
          .addColumn('auth_time', 'text')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('started_at', 'text', (c) => c.notNull())
          .addColumn('last_seen_at', 'text', (c) => c.notNull())
          .addColumn('address', 'text')
          .addColumn('ended_at', 'text')
          .addColumn('end_reason', 'text')
          .execute();
        await db.schema.createIndex('console_sessions_email').on('console_sessions').columns(['email', 'started_at']).execute();
        await db.schema.createIndex('console_sessions_started').on('console_sessions').columns(['started_at']).execute();
        await db.schema
          .createTable('sign_in_failures')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('account', 'text')
          .addColumn('address', 'text')
          .addColumn('reason', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sign_in_failures_account').on('sign_in_failures').columns(['account', 'at']).execute();
        await db.schema.createIndex('sign_in_failures_address').on('sign_in_failures').columns(['address', 'at']).execute();
      },
    },
    '0004-watch': {
      // Owner: lib/watcher. Its lease, what it last saw and announced, the history and the outbox.
      async up(db: AnyDb) {
        // One row: which console replica runs the watcher, until when.
        await db.schema
          .createTable('watch_lease')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('owner', 'text', (c) => c.notNull())
          .addColumn('since', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('watch_state')
          .addColumn('environment', 'text', (c) => c.primaryKey())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('overall', 'text', (c) => c.notNull())
          .addColumn('root_cause', 'text')
          .addColumn('checks', 'text', (c) => c.notNull())
          .addColumn('checked_at', 'text', (c) => c.notNull())
          .addColumn('looked_at', 'text', (c) => c.notNull())
          .addColumn('last_success_at', 'text')
          .addColumn('password_changed_at', 'text')
          .addColumn('observed', 'text', (c) => c.notNull())
          .addColumn('observed_count', 'integer', (c) => c.notNull())
          .addColumn('announced', 'text')
          .addColumn('announced_at', 'text')
          .addColumn('rotation_attempted_at', 'text')
          .addColumn('rotation_id', 'text')
          .addColumn('rotation_skipped', 'text')
          .execute();
        await db.schema
          .createTable('watch_history')
          .addColumn('id', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('environment', 'text', (c) => c.notNull())
          .addColumn('subject', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('root_cause', 'text')
          .addColumn('summary', 'text')
          .addColumn('at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('watch_history_environment_at').on('watch_history').columns(['environment', 'at']).execute();
        await db.schema
          .createTable('notification_outbox')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('environment', 'text')
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text', (c) => c.notNull())
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('notification_outbox_due').on('notification_outbox').columns(['state', 'next_attempt_at']).execute();
      },
    },
  };
}
