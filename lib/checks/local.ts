import 'server-only';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loginToDatabase } from '@/lib/db/login';
import { maskUrlPassword } from '@/lib/redact';
import type { LocalCheckContext } from './context';
import { loginEvidence, shortVersion } from './database';
import { probePostgres } from '@/lib/probes';
import { PROBE_SHARE } from './context';
import type { CheckDefinition } from './run';
import type { Evidence } from './types';

// The local world of the seed: the backend's Pydantic settings take DATABASE_URL from .env when it
// sets one, else config.py's default, and docker-compose's PostgreSQL must answer it. The local
// password is a dev default, but it is still never echoed: the URL is shown masked.

export interface DatabaseUrlSource {
  url: string;
  /** "<path> (DATABASE_URL line)" or "default in config.py". */
  source: string;
}

/** The DATABASE_URL the local backend uses, read the way python-dotenv reads a .env file. */
export async function localDatabaseUrl(env: LocalCheckContext['env']): Promise<DatabaseUrlSource> {
  if (env.envFile) {
    const path = resolve(/*turbopackIgnore: true*/ env.envFile);
    let text: string | null = null;
    try {
      text = await readFile(path, 'utf8');
    } catch {
      // No .env file: the default applies, as in the backend.
    }
    let found: string | undefined;
    for (const line of text?.split(/\r?\n/) ?? []) {
      const m = /^\s*(?:export\s+)?DATABASE_URL\s*=\s*(.*?)\s*$/.exec(line);
      if (!m) continue;
      let value = m[1]!;
      if ((value.startsWith('"') && value.endsWith('"') && value.length >= 2) || (value.startsWith("'") && value.endsWith("'") && value.length >= 2)) value = value.slice(1, -1);
      else value = value.replace(/\s+#.*$/, '');
      found = value;
    }
    if (found) return { url: found, source: `${path} (DATABASE_URL line)` };
  }
  return { url: env.defaultDatabaseUrl, source: 'default in backend/app/core/config.py' };
}

export interface ParsedDatabaseUrl {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  masked: string;
}

/** A postgres URL as libpq and SQLAlchemy accept it, or the reason it is not one. */
export function parseDatabaseUrl(raw: string): ParsedDatabaseUrl | { problem: string; masked: string } {
  const masked = maskUrlPassword(raw);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { problem: 'not a URL (a password with "@", ":" or "/" must be percent-encoded)', masked };
  }
  if (!/^postgres(ql)?(\+[a-z0-9]+)?:$/.test(u.protocol)) return { problem: `the scheme is "${u.protocol.replace(/:$/, '')}", not postgresql`, masked };
  if (!u.hostname) return { problem: 'no host', masked };
  if (!u.username) return { problem: 'no user name', masked };
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!database || database.includes('/')) return { problem: 'no database name after the host', masked };
  const port = u.port ? Number(u.port) : 5432;
  let password: string;
  try {
    password = decodeURIComponent(u.password);
  } catch {
    return { problem: 'the password has a malformed %-escape', masked };
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port, database, user: decodeURIComponent(u.username), password, masked };
}

export const localDatabaseUrlCheck: CheckDefinition<LocalCheckContext> = {
  id: 'local.database-url',
  kinds: ['local'],
  async run(ctx) {
    const { url, source } = await localDatabaseUrl(ctx.env);
    const parsed = parseDatabaseUrl(url);
    const evidence: Evidence = { databaseUrl: parsed.masked, source };
    const fileHint = ctx.env.envFile ? ` in ${resolve(ctx.env.envFile)}` : '';
    if ('problem' in parsed) {
      return {
        status: 'fail',
        summary: `DATABASE_URL is malformed: ${parsed.problem}`,
        evidence,
        fix: { summary: `Set DATABASE_URL${fileHint} to postgresql://USER:PASSWORD@HOST:5432/DBNAME (percent-encode special characters), or remove the line to use the default.` },
      };
    }
    const timeoutMs = Math.floor(ctx.budgetMs * PROBE_SHARE);
    const probe = await probePostgres(parsed.host, parsed.port, timeoutMs);
    evidence.tcp = probe.detail;
    if (probe.outcome !== 'answered') {
      const nothing = probe.outcome === 'refused';
      return {
        status: 'fail',
        summary: nothing
          ? `Connection refused on ${parsed.host}:${parsed.port}: nothing listening (is the docker-compose database running?)`
          : `PostgreSQL on ${parsed.host}:${parsed.port} did not answer: ${probe.detail}`,
        evidence,
        fix: { summary: 'Start the local database and look at its logs.', commands: ['cd backend && docker-compose up -d db', 'cd backend && docker-compose ps', 'cd backend && docker-compose logs db'] },
      };
    }
    const login = await loginToDatabase({ host: parsed.host, port: parsed.port, database: parsed.database, user: parsed.user, transport: { kind: 'libpq-default' } }, parsed.password, { timeoutMs });
    Object.assign(evidence, loginEvidence(login));
    if (login.ok) {
      return { status: 'pass', summary: `DATABASE_URL (${source.startsWith('default') ? 'default' : '.env'}) logs in; ${shortVersion(login.serverVersion)} answered in ${login.latencyMs} ms`, evidence };
    }
    const code = login.error?.code;
    return {
      status: 'fail',
      summary:
        code === '28P01'
          ? `Authentication failed for ${parsed.user}: DATABASE_URL's password is not the local database's`
          : code === '3D000'
            ? `The database "${parsed.database}" does not exist on ${parsed.host}:${parsed.port}`
            : `Login with DATABASE_URL failed (${code}): ${login.error?.message}`,
      evidence,
      fix: {
        summary:
          'DATABASE_URL must match docker-compose.yml\'s POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB. The volume keeps the first password: recreate it if docker-compose.yml changed.',
        commands: ['cd backend && docker-compose exec db psql -U linkbox_user -d linkbox_dev -c "SELECT version();"', 'cd backend && docker-compose down -v && docker-compose up -d db'],
      },
    };
  },
};

export const LOCAL_CHECKS = [localDatabaseUrlCheck];
