import 'server-only';
import { GetParameterCommand, GetParametersCommand } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { awsClients } from '@/lib/aws/clients';
import { describeAwsError, redact } from '@/lib/aws/errors';
import { parameterName, readLinkboxParameters } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// The only place the console holds a decrypted database password. It is read, used for one login
// and dropped; what leaves this module is a verdict with the password scrubbed from every message.

export const DEFAULT_LOGIN_TIMEOUT_MS = 4000;

export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

export type LoginStage = 'credentials' | 'connect' | 'login';

export interface DatabaseLoginResult {
  ok: boolean;
  serverVersion: string | null;
  latencyMs: number | null;
  /** Where the login went (never the password). Null when the credentials could not be read. */
  target: DatabaseTarget | null;
  /**
   * `credentials`: the console could not read the SSM values (could not check, not a verdict);
   * `connect`: nothing answered; `login`: the server answered and refused or failed the query.
   */
  error?: { code: string; message: string; stage: LoginStage };
}

export interface LoginOptions {
  timeoutMs?: number;
  abortSignal?: AbortSignal;
}

export interface KnownParameters {
  username?: string;
  dbName?: string;
  endpoint?: string;
}

/**
 * Logs in the way a backend would, with the credentials in SSM. Pass the plain values already read
 * (readLinkboxParameters) as `known` so only the password is fetched, with GetParameter.
 */
export async function tryDatabaseLogin(
  env: AwsEnvironmentConfig,
  opts: LoginOptions & { known?: KnownParameters } = {},
): Promise<DatabaseLoginResult> {
  let creds: { username: string; password: string; dbName: string; endpoint: string | undefined };
  try {
    creds = await readCredentials(env, opts.known ?? {}, opts.abortSignal);
  } catch (err) {
    const d = describeAwsError(err, { action: 'reading the database credentials from SSM' });
    return { ok: false, serverVersion: null, latencyMs: null, target: null, error: { code: d.kind, message: d.message, stage: 'credentials' } };
  }
  const host = env.reachVia?.host ?? creds.endpoint;
  if (!host) {
    return {
      ok: false,
      serverVersion: null,
      latencyMs: null,
      target: null,
      error: { code: 'no-endpoint', message: `${parameterName(env, 'db-endpoint')} has no value`, stage: 'credentials' },
    };
  }
  const target = { host, port: env.reachVia?.port ?? env.dbPort, database: creds.dbName, user: creds.username };
  return loginToDatabase(target, creds.password, opts);
}

/** Logs in with an explicit candidate password (rotation's check before promoting it). */
export async function loginWithPassword(
  env: AwsEnvironmentConfig,
  username: string,
  password: string,
  opts: LoginOptions & { database?: string; endpoint?: string } = {},
): Promise<DatabaseLoginResult> {
  let database = opts.database;
  let endpoint = opts.endpoint;
  if (!database || (!endpoint && !env.reachVia)) {
    try {
      const params = await readLinkboxParameters(env, { abortSignal: opts.abortSignal });
      database ??= params.parameters['db-name']?.value;
      endpoint ??= params.parameters['db-endpoint']?.value;
    } catch (err) {
      const d = describeAwsError(err, { action: 'GetParameters', redact: [password] });
      return { ok: false, serverVersion: null, latencyMs: null, target: null, error: { code: d.kind, message: d.message, stage: 'credentials' } };
    }
  }
  const host = env.reachVia?.host ?? endpoint;
  if (!host || !database) {
    return {
      ok: false,
      serverVersion: null,
      latencyMs: null,
      target: null,
      error: { code: 'no-endpoint', message: 'the database endpoint or name is not in SSM', stage: 'credentials' },
    };
  }
  return loginToDatabase({ host, port: env.reachVia?.port ?? env.dbPort, database, user: username }, password, opts);
}

/**
 * One login and `SELECT version()`. TLS is tried first (RDS may force it) without verifying the
 * certificate, then plain when the server has no TLS (the lab, docker-compose).
 */
export async function loginToDatabase(target: DatabaseTarget, password: string, opts: LoginOptions = {}): Promise<DatabaseLoginResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  let attempt = await connectOnce(target, password, true, timeoutMs, opts.abortSignal);
  if (!attempt.ok && attempt.error?.code === 'no-tls') {
    attempt = await connectOnce(target, password, false, timeoutMs, opts.abortSignal);
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

async function readCredentials(env: AwsEnvironmentConfig, known: KnownParameters, signal: AbortSignal | undefined) {
  const { ssm } = awsClients(env);
  const sendOpts = signal ? { abortSignal: signal } : undefined;
  if (known.username && known.dbName && (known.endpoint || env.reachVia)) {
    const out = await ssm.send(new GetParameterCommand({ Name: parameterName(env, 'db-password'), WithDecryption: true }), sendOpts);
    const password = out.Parameter?.Value;
    if (password === undefined) throw new MissingParameterError(parameterName(env, 'db-password'));
    return { username: known.username, password, dbName: known.dbName, endpoint: known.endpoint };
  }
  const keys = ['db-endpoint', 'db-username', 'db-password', 'db-name'] as const;
  const out = await ssm.send(new GetParametersCommand({ Names: keys.map((k) => parameterName(env, k)), WithDecryption: true }), sendOpts);
  const value = (k: (typeof keys)[number]) => out.Parameters?.find((p) => p.Name === parameterName(env, k))?.Value;
  const username = value('db-username');
  const password = value('db-password');
  const dbName = value('db-name');
  for (const [k, v] of [['db-username', username], ['db-password', password], ['db-name', dbName]] as const) {
    if (v === undefined) throw new MissingParameterError(parameterName(env, k));
  }
  return { username: username!, password: password!, dbName: dbName!, endpoint: value('db-endpoint') };
}

class MissingParameterError extends Error {
  constructor(name: string) {
    super(`${name} does not exist or has no value`);
    this.name = 'ParameterNotFound';
  }
}
