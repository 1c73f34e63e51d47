// One LinkBox backend container, as its own OS process: started with an IPC channel by the fleet
// (container.ts), it does what start_application.sh and the FastAPI app do — read the four SSM
// parameters, build DATABASE_URL without encoding, and answer /health with a fresh DB connection.
// It never prints DATABASE_URL or the password; the IPC channel is the only place the URL travels
// (so that `docker restart` can reuse it, as docker keeps a container's environment).

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { DatabaseUrlError, displayHost, parseDatabaseUrl, scrubSecret, type ParsedDatabaseUrl } from './database-url';
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

async function start(config: BackendStart): Promise<void> {
  let databaseUrl: string;
  if (config.databaseUrl !== undefined) {
    databaseUrl = config.databaseUrl;
  } else {
    databaseUrl = await readDatabaseUrlFromSsm(config);
    send({ type: 'resolved', databaseUrl });
  }

  let target: ParsedDatabaseUrl | DatabaseUrlError;
  try {
    target = parseDatabaseUrl(databaseUrl);
  } catch (err) {
    // An app given a malformed URL still starts and fails each request, as SQLAlchemy's lazy engine does.
    target = err instanceof DatabaseUrlError ? err : new DatabaseUrlError('invalid DATABASE_URL');
  }

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

async function readDatabaseUrlFromSsm(config: BackendStart): Promise<string> {
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
    return `postgresql://${username}:${password}@${endpoint}:5432/${name}`;
  } finally {
    ssm.destroy();
  }
}

async function handle(req: IncomingMessage, res: ServerResponse, target: ParsedDatabaseUrl | DatabaseUrlError, config: BackendStart) {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/health') return respond(res, 404, { detail: 'Not Found' }, req);
  if (req.method !== 'GET' && req.method !== 'HEAD') return respond(res, 405, { detail: 'Method Not Allowed' }, req);
  if (unhealthyFault) return respond(res, 503, { status: 'unhealthy', error: 'lab fault: unhealthy' }, req);
  if (target instanceof DatabaseUrlError) return respond(res, 503, { status: 'unhealthy', error: target.message }, req);
  const error = await checkDatabase(target, config);
  if (error === null) return respond(res, 200, { status: 'healthy' }, req);
  return respond(res, 503, { status: 'unhealthy', error: scrubSecret(error, target.password) }, req);
}

function respond(res: ServerResponse, status: number, body: object, req?: IncomingMessage): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(req?.method === 'HEAD' ? undefined : text);
  if (req) log(`INFO:     127.0.0.1 - "${req.method} ${req.url} HTTP/1.1" ${status}`);
}

/** A fresh connection every time, as the app's health endpoint does: null when SELECT 1 answers. */
async function checkDatabase(target: ParsedDatabaseUrl, config: BackendStart): Promise<string | null> {
  const where = `connection to server at "${displayHost(target.host)}", port ${target.port} failed`;
  let connectTo: { host: string; port: number };
  if (config.rdsEndpointAddress && target.host === config.rdsEndpointAddress && config.dbRoute) {
    connectTo = config.dbRoute;
  } else if (target.host === 'localhost' || isIP(target.host)) {
    connectTo = { host: target.host, port: target.port };
  } else {
    // The lab's network knows only the RDS endpoint by name; asking real DNS would hang offline.
    return `could not translate host name "${displayHost(target.host)}" to address: Name or service not known`;
  }

  const client = new pg.Client({
    host: connectTo.host,
    port: connectTo.port,
    user: target.user,
    password: target.password,
    database: target.database,
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
