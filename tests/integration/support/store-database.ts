import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Lab } from '@/infra/lab/contract';

/**
 * A database of its own on the lab's PostgreSQL, owned by a role of its own, for the console's store
 * when several replicas share one (AUDIT_DATABASE_URL): the store must not depend on the password it
 * rotates. Created with the RDS master user (CREATEDB, CREATEROLE), whose password the caller read.
 */
export async function createStoreDatabase(lab: Lab, masterPassword: string, name = 'console_store'): Promise<string> {
  const direct = new URL(lab.local.databaseUrl); // the lab's PostgreSQL itself, not the RDS network
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ host: direct.hostname, port: Number(direct.port), user: lab.rds.masterUsername, password: masterPassword, database: lab.rds.dbName });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN PASSWORD ${pg.escapeLiteral(password)}`);
    // PostgreSQL 16+: a CREATEROLE user may hand a database to a role only once it can SET ROLE to it.
    await admin.query(`GRANT ${pg.escapeIdentifier(name)} TO CURRENT_USER`);
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  return `postgresql://${name}:${password}@${direct.hostname}:${direct.port}/${name}`;
}
