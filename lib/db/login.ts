import 'server-only';
import pg from 'pg';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { redact } from '@/lib/redact';

// The console's one database login. The caller hands it a password it read from SSM (lib/aws) and
// drops afterwards; what leaves this module is a verdict with the password scrubbed from every message.

export const DEFAULT_LOGIN_TIMEOUT_MS = 4000;

export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

export type LoginStage = 'connect' | 'login';

export interface DatabaseLoginResult {
  ok: boolean;
  serverVersion: string | null;
  latencyMs: number | null;
  /** Where the login went (never the password). */
  target: DatabaseTarget;
  /** `connect`: nothing answered; `login`: the server answered and refused or failed the query. */
  error?: { code: string; message: string; stage: LoginStage };
}

export interface LoginOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * One login and `SELECT version()`. TLS is tried first (RDS may force it) without verifying the
 * certificate, then plain when the server has no TLS (the lab, docker-compose).
 */
export async function loginToDatabase(target: DatabaseTarget, password: string, opts: LoginOptions = {}): Promise<DatabaseLoginResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  let attempt = await connectOnce(target, password, true, timeoutMs, opts.signal);
  if (!attempt.ok && attempt.error?.code === 'no-tls') {
    attempt = await connectOnce(target, password, false, timeoutMs, opts.signal);
  }
  return attempt;
}

async function connectOnce(
  target: DatabaseTarget,
  password: string,
  tls: boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<DatabaseLoginResult> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password,
    database: target.database,
    ssl: tls ? { rejectUnauthorized: false } : false,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    statement_timeout: timeoutMs,
    application_name: 'linkbox-ops-console',
  });
  // A connection dropped after we have our answer must not become an unhandled 'error' event.
  client.on('error', () => {});
  const abort = () => void client.end().catch(() => {});
  signal?.addEventListener('abort', abort, { once: true });
  const started = performance.now();
  let connected = false;
  try {
    await client.connect();
    connected = true;
    const res = await client.query<{ version: string }>('SELECT version() AS version');
    const latencyMs = Math.round(performance.now() - started);
    return { ok: true, serverVersion: res.rows[0]?.version ?? null, latencyMs, target };
  } catch (err) {
    return { ok: false, serverVersion: null, latencyMs: null, target, error: classifyLoginError(err, connected, password) };
  } finally {
    signal?.removeEventListener('abort', abort);
    client.end().catch(() => {});
  }
}

function classifyLoginError(err: unknown, connected: boolean, password: string): NonNullable<DatabaseLoginResult['error']> {
  const e = err as { code?: string; message?: string };
  const message = redact(e.message ?? String(err), [password]);
  if (/does not support SSL/i.test(message)) return { code: 'no-tls', message, stage: 'connect' };
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) return { code: e.code, message, stage: 'login' };
  if (/timeout|timed out/i.test(message) || e.code === 'ETIMEDOUT') {
    return { code: 'timeout', message: connected ? `the server did not answer the query in time (${message})` : message, stage: connected ? 'login' : 'connect' };
  }
  if (/terminated unexpectedly|ECONNRESET/i.test(message) || e.code === 'ECONNRESET') {
    return { code: e.code ?? 'reset', message, stage: connected ? 'login' : 'connect' };
  }
  return { code: e.code ?? 'unknown', message, stage: connected ? 'login' : 'connect' };
}

/**
 * Where the console logs in as LinkBox's backends do: the SSM user and database, at the SSM
 * endpoint, or through the configured tunnel (reachVia) when the console runs outside the VPC.
 * The status's db.login and the rotation's logins use this one rule.
 */
export function loginTargetFor(
  env: AwsEnvironmentConfig,
  values: { user?: string; database?: string; endpoint?: string },
): { ok: true; target: DatabaseTarget } | { ok: false; missing: Array<'db-username' | 'db-name' | 'db-endpoint'> } {
  const host = env.reachVia?.host ?? values.endpoint;
  const missing = [!values.user && ('db-username' as const), !values.database && ('db-name' as const), !host && ('db-endpoint' as const)].filter((k) => k !== false);
  if (missing.length > 0) return { ok: false, missing };
  return { ok: true, target: { host: host!, port: env.reachVia?.port ?? env.dbPort, user: values.user!, database: values.database! } };
}
