// One LinkBox backend container, as its own OS process: started with an IPC channel by the fleet
// (container.ts), it does what start_application.sh and the FastAPI app do — read the four SSM
// parameters, build DATABASE_URL without encoding, read it as Pydantic settings and SQLAlchemy do
// (database-url.ts models that chain: a URL the app cannot parse stops it at import, as the real
// one dies before Uvicorn listens), and answer /health with a fresh DB connection made with exactly
// the user, password, host, port and database psycopg2 would send. It never prints DATABASE_URL or
// the password; the IPC channel is the only place the URL travels (so that `docker restart` can
// reuse it, as docker keeps a container's environment).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { backendLoginFromDatabaseUrl, backendLoginFromSsm, displayHost, LIBPQ_DEFAULTS, scrubSecret, type BackendLogin, type BackendUrlOutcome, type SsmDatabaseSettings } from './database-url';
import type { BackendStart, ToBackend, FromBackend } from './backend-messages';

const CONNECT_TIMEOUT_MS = 3000;

let unhealthyFault = false;
let started = false;

function send(message: FromBackend): void {
  process.send?.(message);
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** Thrown after the failure was reported, to unwind the start. */
class StartFailed extends Error {}

function fail(error: string): StartFailed {
  log(`ERROR:    ${error}`);
  send({ type: 'failed', error });
  // Give the IPC message a moment to leave before the process is gone.
  setTimeout(() => process.exit(1), 50);
  return new StartFailed(error);
}

// A container whose host (the lab) is gone must not linger: the IPC pipe closing is the signal,
// and polling the parent pid catches a parent that died without closing it (SIGKILL of a group).
const parentPid = process.ppid;
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  if (process.ppid !== parentPid) process.exit(0);
}, 1000).unref();
process.on('SIGTERM', () => {
  log('INFO:     Shutting down');
  process.exit(0);
});

process.on('message', (message: ToBackend) => {
  if (message.type === 'fault') {
    unhealthyFault = message.unhealthy;
    return;
  }
  if (message.type === 'start' && !started) {
    started = true;
    unhealthyFault = message.unhealthy;
    start(message).catch((err: unknown) => {
      if (!(err instanceof StartFailed)) fail('the backend could not start');
    });
  }
});

/** What the app does with its DATABASE_URL: a login to try, or the error every request meets. */
type Target = { login: BackendLogin; secret: string } | { error: string; secret: string };

async function start(config: BackendStart): Promise<void> {
  let outcome: BackendUrlOutcome;
  if (config.databaseUrl !== undefined) {
    outcome = backendLoginFromDatabaseUrl(config.databaseUrl);
  } else {
    const ssm = await readSsm(config);
    outcome = backendLoginFromSsm(ssm);
    // `docker run` itself failed: there is no container, and nothing to remember.
    if (!outcome.ok && outcome.stage === 'docker-run') throw fail(outcome.error);
    send({ type: 'resolved', databaseUrl: outcome.databaseUrl! });
  }
  const secret = passwordPart(outcome.databaseUrl ?? '');

  if (!outcome.ok && (outcome.stage === 'settings' || outcome.stage === 'create-engine')) {
    // The app dies importing app.core.config (pydantic) or creating its engine (SQLAlchemy):
    // Uvicorn never listens. The real traceback would show the URL; this one never does.
    const error =
      outcome.stage === 'settings'
        ? `pydantic_core._pydantic_core.ValidationError: 1 validation error for Settings: database_url: ${outcome.error} [type=url_parsing, input_value=<DATABASE_URL, hidden>, input_type=str]`
        : `sqlalchemy.exc.ArgumentError: ${outcome.error}`;
    log('Traceback (most recent call last):');
    throw fail(`the app failed to start: ${scrubSecret(error, secret)}`);
  }
  const target: Target = outcome.ok ? { login: outcome.login, secret } : { error: outcome.error, secret };

  const server = createServer((req, res) => {
    handle(req, res, target, config).catch(() => respond(res, 500, { detail: 'Internal Server Error' }));
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    void fail(err.code === 'EADDRINUSE' ? `health port 127.0.0.1:${config.port} is in use by another process` : `cannot listen: ${err.message}`);
  });
  server.listen(config.port, '127.0.0.1', () => {
    log(`INFO:     Uvicorn running on http://127.0.0.1:${config.port} (Press CTRL+C to quit)`);
    send({ type: 'listening', port: config.port });
  });
}

/** The credentials part of a DATABASE_URL after the first ":" (what must never be shown). */
function passwordPart(databaseUrl: string): string {
  const rest = databaseUrl.replace(/^[a-z+]+:\/\//i, '');
  const credentials = rest.slice(0, Math.max(rest.lastIndexOf('@'), 0));
  const colon = credentials.indexOf(':');
  return colon >= 0 ? credentials.slice(colon + 1) : '';
}

async function readSsm(config: BackendStart): Promise<SsmDatabaseSettings> {
  const ssm = new SSMClient({
    region: config.region,
    endpoint: config.awsEndpoint,
    credentials: { accessKeyId: `LABHOST-${config.instanceId}`, secretAccessKey: 'lab-host-not-a-secret' },
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
  });
  const read = async (name: string, withDecryption: boolean): Promise<string> => {
    const parameter = `${config.parameterPrefix}/${name}`;
    try {
      const out = await ssm.send(new GetParameterCommand({ Name: parameter, WithDecryption: withDecryption }));
      return out.Parameter?.Value ?? '';
    } catch (err) {
      const e = err as Error;
      // The AWS CLI's wording, which is what the start script would have printed to its log.
      throw fail(`reading ${parameter} from SSM failed: An error occurred (${e.name}) when calling the GetParameter operation: ${e.message}`);
    }
  };
  try {
    // Four calls, in the script's order: the same number and kind of requests the real script makes.
    const endpoint = await read('db-endpoint', false);
    const username = await read('db-username', false);
    const password = await read('db-password', true);
    const name = await read('db-name', false);
    return { endpoint, username, password, name };
  } finally {
    ssm.destroy();
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, target: Target, config: BackendStart) {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/health') return respond(res, 404, { detail: 'Not Found' }, req);
  if (req.method !== 'GET' && req.method !== 'HEAD') return respond(res, 405, { detail: 'Method Not Allowed' }, req);
  if (unhealthyFault) return respond(res, 503, { status: 'unhealthy', error: 'lab fault: unhealthy' }, req);
  if ('error' in target) return respond(res, 503, { status: 'unhealthy', error: scrubSecret(target.error, target.secret) }, req);
  const error = await checkDatabase(target.login, config);
  if (error === null) return respond(res, 200, { status: 'healthy' }, req);
  const scrubbed = scrubSecret(scrubSecret(error, target.login.password ?? ''), target.secret);
  return respond(res, 503, { status: 'unhealthy', error: scrubbed }, req);
}

function respond(res: ServerResponse, status: number, body: object, req?: IncomingMessage): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(req?.method === 'HEAD' ? undefined : text);
  if (req) log(`INFO:     127.0.0.1 - "${req.method} ${req.url} HTTP/1.1" ${status}`);
}

/** The port RDS listens on (the seed's DB_PORT); other ports of the endpoint are dropped by its security group. */
const RDS_PORT = 5432;

/** A fresh connection every time, as the app's health endpoint does: null when SELECT 1 answers. */
async function checkDatabase(login: BackendLogin, config: BackendStart): Promise<string | null> {
  if (login.host === null) {
    return 'connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: No such file or directory\n\tIs the server running locally and accepting connections on that socket?';
  }
  const host = login.host;
  const where = `connection to server at "${displayHost(host)}", port ${login.port} failed`;
  let connectTo: { host: string; port: number };
  // DNS names are case-insensitive: an upper-case endpoint still resolves to RDS.
  if (config.rdsEndpointAddress && host.toLowerCase() === config.rdsEndpointAddress.toLowerCase() && config.dbRoute) {
    if (login.port !== RDS_PORT) {
      await new Promise((r) => setTimeout(r, CONNECT_TIMEOUT_MS));
      return `${where}: timeout expired`;
    }
    connectTo = config.dbRoute;
  } else if (host === 'localhost' || isIP(host)) {
    connectTo = { host, port: login.port };
  } else {
    // The lab's network knows only the RDS endpoint by name; asking real DNS would hang offline.
    return `could not translate host name "${displayHost(host)}" to address: Name or service not known`;
  }
  if (login.password === null) return `${where}: fe_sendauth: no password supplied`;

  const user = login.user ?? LIBPQ_DEFAULTS.user;
  const client = new pg.Client({
    host: connectTo.host,
    port: connectTo.port,
    user,
    password: login.password,
    database: login.database ?? user,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: CONNECT_TIMEOUT_MS,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout expired')), CONNECT_TIMEOUT_MS + 500);
    });
    await Promise.race([client.connect().then(() => client.query('SELECT 1')), timeout]);
    return null;
  } catch (err) {
    return describeDatabaseError(err as NodeJS.ErrnoException & { severity?: string }, where);
  } finally {
    clearTimeout(timer);
    client.end().catch(() => undefined);
  }
}

function describeDatabaseError(err: NodeJS.ErrnoException & { severity?: string }, where: string): string {
  // A server error (bad password, missing database) carries the server's own words, as libpq shows them.
  if (err.severity) return `${where}: FATAL:  ${err.message}`;
  if (err.code === 'ECONNREFUSED') return `${where}: Connection refused. Is the server running on that host and accepting TCP/IP connections?`;
  if (/timeout/i.test(err.message)) return `${where}: timeout expired`;
  if (err.code === 'ECONNRESET' || /terminated/i.test(err.message)) return `${where}: server closed the connection unexpectedly`;
  return `${where}: ${err.code ?? err.message}`;
}
