import 'server-only';
import { readFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import type { LocalCheckContext } from '@/lib/checks/context';
import type { LocalEnvironmentConfig } from '@/lib/config/schema';
import type { StepContext, StepOutcome } from './context';

// The seed's local "Connection refused" checklist: which DATABASE_URL the backend uses (.env, else
// the default in config.py), whether it is well-formed, and whether anything listens where it points.
// The local password is the docker-compose default, but it is still masked: a .env may hold a real one.

type Ctx = StepContext<LocalCheckContext>;

export interface DatabaseUrlInUse {
  url: string;
  source: '.env' | 'default';
  envFile: string | null;
  /** Why the .env was not used, when it exists but does not set DATABASE_URL or cannot be read. */
  envNote: string | null;
}

/** DATABASE_URL from a .env file as python-dotenv reads it: optional `export`, quotes, comments. */
export function databaseUrlFromDotenv(text: string): string | null {
  let found: string | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?DATABASE_URL\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    let v = m[1]!.trim();
    if ((v.startsWith('"') && v.includes('"', 1)) || (v.startsWith("'") && v.includes("'", 1))) {
      v = v.slice(1, v.indexOf(v[0]!, 1));
    } else {
      v = v.replace(/\s+#.*$/, '').trim();
    }
    found = v; // the last assignment wins, as in python-dotenv
  }
  return found;
}

export async function databaseUrlInUse(env: LocalEnvironmentConfig): Promise<DatabaseUrlInUse> {
  if (!env.envFile) return { url: env.defaultDatabaseUrl, source: 'default', envFile: null, envNote: null };
  let text: string;
  try {
    text = await readFile(env.envFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      url: env.defaultDatabaseUrl,
      source: 'default',
      envFile: env.envFile,
      envNote: code === 'ENOENT' ? 'no .env file' : `the .env file cannot be read (${code ?? 'error'})`,
    };
  }
  const fromFile = databaseUrlFromDotenv(text);
  if (fromFile === null) return { url: env.defaultDatabaseUrl, source: 'default', envFile: env.envFile, envNote: '.env does not set DATABASE_URL' };
  return { url: fromFile, source: '.env', envFile: env.envFile, envNote: null };
}

export interface ParsedDatabaseUrl {
  host: string;
  port: number;
  user: string;
  database: string;
  hasPassword: boolean;
}

export type UrlParse = { ok: true; url: ParsedDatabaseUrl } | { ok: false; problem: string };

/** What SQLAlchemy/psycopg accept for the backend: postgresql(+driver)://user:password@host:port/db. */
export function parseDatabaseUrl(raw: string): UrlParse {
  if (!raw) return { ok: false, problem: 'DATABASE_URL is empty' };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1];
  if (!scheme) return { ok: false, problem: 'it does not start with postgresql://' };
  if (!/^postgres(ql)?(\+[a-z0-9]+)?$/i.test(scheme)) return { ok: false, problem: `the scheme "${scheme}" is not postgresql://` };
  let u: URL;
  try {
    u = new URL(raw.replace(/^[^:]+:/, 'http:'));
  } catch {
    return { ok: false, problem: 'it is not a valid URL (a password with "@", "/", "#" or "?" must be percent-encoded)' };
  }
  if (!u.hostname) return { ok: false, problem: 'it has no host' };
  if (!u.username) return { ok: false, problem: 'it has no user name' };
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database) return { ok: false, problem: 'it names no database (…/linkbox_dev)' };
  const port = u.port ? Number(u.port) : 5432;
  return { ok: true, url: { host: u.hostname.replace(/^\[|\]$/g, ''), port, user: decodeURIComponent(u.username), database, hasPassword: u.password !== '' } };
}

/** The URL as it may be shown: the password replaced, whatever characters it has. */
export function maskDatabaseUrl(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/i, '$1****@');
}

const COMPOSE_DIR = 'backend';

export async function localUrlFormatStep(ctx: Ctx): Promise<StepOutcome> {
  const inUse = await databaseUrlInUse(ctx.env);
  const parsed = parseDatabaseUrl(inUse.url);
  const evidence = { 'DATABASE_URL': maskDatabaseUrl(inUse.url), source: inUse.source === '.env' ? (inUse.envFile ?? '.env') : 'default in config.py' };
  if (!parsed.ok) {
    return {
      status: 'fail',
      summary: `DATABASE_URL is not well-formed: ${parsed.problem}`,
      evidence,
      fix: {
        summary: 'Use the docker-compose form (user, password, host, port, database)',
        commands: [`echo "DATABASE_URL=${maskDatabaseUrl(ctx.env.defaultDatabaseUrl)}"   # replace **** with the POSTGRES_PASSWORD of docker-compose.yml`],
      },
    };
  }
  return {
    status: 'pass',
    summary: `DATABASE_URL points at ${parsed.url.host}:${parsed.url.port}, database ${parsed.url.database}, user ${parsed.url.user}`,
    evidence: { ...evidence, host: parsed.url.host, port: parsed.url.port, database: parsed.url.database, user: parsed.url.user },
  };
}

export async function localEnvOverrideStep(ctx: Ctx): Promise<StepOutcome> {
  const inUse = await databaseUrlInUse(ctx.env);
  const evidence = { '.env': inUse.envFile ?? 'not configured', 'DATABASE_URL from': inUse.source === '.env' ? '.env' : 'default in config.py' };
  if (inUse.source === 'default') {
    return { status: 'pass', summary: `The default from config.py is in use (${inUse.envNote ?? 'no .env configured'})`, evidence };
  }
  if (inUse.url === ctx.env.defaultDatabaseUrl) {
    return { status: 'pass', summary: '.env sets DATABASE_URL to the same value as the default', evidence };
  }
  const def = parseDatabaseUrl(ctx.env.defaultDatabaseUrl);
  const cur = parseDatabaseUrl(inUse.url);
  const differs: string[] = [];
  if (def.ok && cur.ok) {
    if (def.url.host !== cur.url.host) differs.push(`host ${cur.url.host} instead of ${def.url.host}`);
    if (def.url.port !== cur.url.port) differs.push(`port ${cur.url.port} instead of ${def.url.port}`);
    if (def.url.database !== cur.url.database) differs.push(`database ${cur.url.database} instead of ${def.url.database}`);
    if (def.url.user !== cur.url.user) differs.push(`user ${cur.url.user} instead of ${def.url.user}`);
  }
  return {
    status: 'warn',
    summary: `.env overrides the default DATABASE_URL${differs.length ? `: ${differs.join(', ')}` : ' (only the password differs)'}`,
    evidence: { ...evidence, 'in use': maskDatabaseUrl(inUse.url), default: maskDatabaseUrl(ctx.env.defaultDatabaseUrl) },
    fix: {
      summary: 'If the docker-compose database is the one you mean, remove DATABASE_URL from .env (or make it match docker-compose.yml)',
      commands: [`grep -n DATABASE_URL ${inUse.envFile ?? '.env'}`],
    },
  };
}

export type TcpProbe = { kind: 'open'; ms: number } | { kind: 'refused' } | { kind: 'timed-out' } | { kind: 'unresolved' } | { kind: 'other'; code: string };

export function probeTcp(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = new Socket();
    const done = (result: TcpProbe) => {
      socket.destroy();
      signal.removeEventListener('abort', onAbort);
      resolve(result);
    };
    const onAbort = () => done({ kind: 'timed-out' });
    signal.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(timeoutMs, () => done({ kind: 'timed-out' }));
    socket.once('connect', () => done({ kind: 'open', ms: Date.now() - started }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done({ kind: 'refused' });
      else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') done({ kind: 'unresolved' });
      else if (err.code === 'ETIMEDOUT') done({ kind: 'timed-out' });
      else done({ kind: 'other', code: err.code ?? 'error' });
    });
    socket.connect(port, host);
  });
}

function composeCommands(): string[] {
  return [`cd ${COMPOSE_DIR}`, 'docker-compose ps', 'docker-compose logs db', 'docker-compose up -d db'];
}

export async function localListeningStep(ctx: Ctx): Promise<StepOutcome> {
  const inUse = await databaseUrlInUse(ctx.env);
  const parsed = parseDatabaseUrl(inUse.url);
  if (!parsed.ok) return { status: 'skip', summary: 'DATABASE_URL is not well-formed, so there is no host and port to try', evidence: {} };
  const { host, port } = parsed.url;
  const probe = await probeTcp(host, port, Math.max(500, ctx.budgetMs - 500), ctx.signal);
  const evidence = { host, port, result: probe.kind === 'open' ? `open in ${probe.ms} ms` : probe.kind === 'other' ? probe.code : probe.kind };
  switch (probe.kind) {
    case 'open':
      return { status: 'pass', summary: `Something listens at ${host}:${port}`, evidence };
    case 'refused':
      return {
        status: 'fail',
        summary: `Nothing listens at ${host}:${port}: the connection is refused`,
        evidence,
        fix: { summary: 'Start the docker-compose database and check it came up', commands: composeCommands() },
      };
    case 'timed-out':
      return {
        status: 'fail',
        summary: `${host}:${port} does not answer (timed out): a firewall drops the packets, or the host is wrong`,
        evidence,
        fix: { summary: 'Check the host in DATABASE_URL; the docker-compose database listens on localhost', commands: composeCommands() },
      };
    case 'unresolved':
      return {
        status: 'fail',
        summary: `The host name ${host} does not resolve`,
        evidence,
        fix: { summary: 'Outside docker-compose the database is at localhost, not the service name "db"', commands: composeCommands() },
      };
    default:
      return { status: 'error', summary: `Could not check ${host}:${port} (${probe.code})`, evidence };
  }
}

/** The seed's docker-compose commands, with a verdict on whether the compose database is the one answering. */
export async function localComposeDbStep(ctx: Ctx): Promise<StepOutcome> {
  const inUse = await databaseUrlInUse(ctx.env);
  const parsed = parseDatabaseUrl(inUse.url);
  if (!parsed.ok) return { status: 'skip', summary: 'DATABASE_URL is not well-formed', evidence: {}, fix: { summary: 'Then check the database container', commands: composeCommands() } };
  const local = ['localhost', '127.0.0.1', '::1'].includes(parsed.url.host);
  const probe = await probeTcp(parsed.url.host, parsed.url.port, Math.max(500, ctx.budgetMs - 500), ctx.signal);
  const evidence = { 'compose service': 'db (postgres:15)', host: parsed.url.host, port: parsed.url.port };
  if (probe.kind === 'open') {
    return {
      status: 'pass',
      summary: local ? 'The database container answers on localhost' : `DATABASE_URL points at ${parsed.url.host}, not the docker-compose database; it answers`,
      evidence,
      fix: { summary: 'To look at the container anyway', commands: ['cd backend', 'docker-compose ps', 'docker-compose exec db psql -U linkbox_user -d linkbox_dev'] },
    };
  }
  return {
    status: local ? 'fail' : 'skip',
    summary: local ? 'The docker-compose database is not answering: start it' : 'DATABASE_URL does not point at the docker-compose database',
    evidence,
    fix: { summary: 'Start the database, then read its log if it stops again', commands: composeCommands() },
  };
}
