import { request } from 'node:http';
import { connect, isIP } from 'node:net';
import { fail, ok, type Output } from './docker';

// `curl` and `nc -zv` as run on a backend instance, done for real from that instance's place in
// the lab network: the RDS endpoint goes through dbRoute(instance), localhost:80 is the instance's
// own container, another instance's private IP on :80 is that instance's container.

export interface NetContext {
  rdsEndpointAddress: string;
  /** Where this instance's connections to the RDS endpoint go. */
  dbRoute: { host: string; port: number };
  /** The health port of the container answering on ip:80 ("localhost" means this instance). */
  containerPortFor: (host: string) => number | undefined;
}

const NC_TIMEOUT_S = 3;
const SERVICES: Record<number, string> = { 22: 'ssh', 80: 'http', 443: 'https', 5432: 'postgresql' };
/** PostgreSQL's SSLRequest: any live server answers it with one byte ('S' or 'N'). */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

type Destination = { kind: 'postgres' | 'tcp'; host: string; port: number } | { kind: 'unresolvable' } | { kind: 'unroutable' } | { kind: 'refused' };

function destination(host: string, port: number, ctx: NetContext): Destination {
  if (host === ctx.rdsEndpointAddress) return port === 5432 ? { kind: 'postgres', ...ctx.dbRoute } : { kind: 'unroutable' };
  const containerPort = ctx.containerPortFor(host);
  if (containerPort !== undefined) return port === 80 ? { kind: 'tcp', host: '127.0.0.1', port: containerPort } : { kind: 'refused' };
  if (host === 'localhost' || host.startsWith('127.')) return { kind: 'refused' };
  // The VPC knows only the lab's names; anything else does not resolve (and nothing leaves the lab).
  return isIP(host) ? { kind: 'unroutable' } : { kind: 'unresolvable' };
}

export async function nc(args: string[], ctx: NetContext): Promise<Output> {
  let verbose = false;
  let scan = false;
  let timeoutS = NC_TIMEOUT_S;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (/^-[zvnw]+$/.test(a)) {
      if (a.includes('z')) scan = true;
      if (a.includes('v')) verbose = true;
      if (a.endsWith('w')) timeoutS = Number(args[++i]);
    } else if (/^-[zvn]*w\d+$/.test(a)) {
      if (a.includes('z')) scan = true;
      if (a.includes('v')) verbose = true;
      timeoutS = Number(a.replace(/^.*w/, ''));
    } else if (a.startsWith('-')) {
      return fail(`lab: nc option ${a} is not supported by the lab (use nc -zv HOST PORT)`, 1);
    } else positional.push(a);
  }
  if (!scan || positional.length !== 2) return fail('lab: only "nc -zv HOST PORT" is supported by the lab', 1);
  const [host, portText] = positional as [string, string];
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return fail(`nc: port number invalid: ${portText}`, 1);
  const waitMs = Math.min(Number.isFinite(timeoutS) && timeoutS > 0 ? timeoutS : NC_TIMEOUT_S, NC_TIMEOUT_S) * 1000;

  const say = (line: string, exitCode: number): Output => (verbose ? { stdout: '', stderr: `${line}\n`, exitCode } : { stdout: '', stderr: '', exitCode });
  const succeeded = () => say(`Connection to ${host} ${port} port [tcp/${SERVICES[port] ?? '*'}] succeeded!`, 0);
  const refused = () => say(`nc: connect to ${host} port ${port} (tcp) failed: Connection refused`, 1);
  const timedOut = () => say(`nc: connect to ${host} port ${port} (tcp) timed out: Operation now in progress`, 1);

  const dest = destination(host, port, ctx);
  switch (dest.kind) {
    case 'unresolvable':
      return { stdout: '', stderr: `nc: getaddrinfo for host "${host}" port ${port}: Name or service not known\n`, exitCode: 1 };
    case 'refused':
      return refused();
    case 'unroutable':
      await new Promise((r) => setTimeout(r, waitMs));
      return timedOut();
    default: {
      const result = await probe(dest.host, dest.port, dest.kind === 'postgres', waitMs);
      return result === 'open' ? succeeded() : result === 'refused' ? refused() : timedOut();
    }
  }
}

/**
 * A TCP test. For PostgreSQL the lab's DB network accepts and then drops a blocked source's traffic
 * (a dropped SYN cannot be faked in user space), so "open" means the server answered an SSLRequest.
 */
function probe(host: string, port: number, postgres: boolean, waitMs: number): Promise<'open' | 'refused' | 'timeout'> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let done = false;
    const finish = (result: 'open' | 'refused' | 'timeout') => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('timeout'), waitMs);
    socket.on('connect', () => {
      if (!postgres) finish('open');
      else socket.write(SSL_REQUEST);
    });
    socket.on('data', () => finish('open'));
    socket.on('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ETIMEDOUT' ? 'timeout' : 'refused'));
    socket.on('close', () => finish('refused'));
  });
}

export async function curl(args: string[], ctx: NetContext): Promise<Output> {
  let silent = false;
  let showError = false;
  let failOnError = false;
  let include = false;
  let head = false;
  let discardBody = false;
  let writeOut: string | undefined;
  let maxTimeS = 10;
  let url: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (/^-[sSfiIL]+$/.test(a)) {
      if (a.includes('s')) silent = true;
      if (a.includes('S')) showError = true;
      if (a.includes('f')) failOnError = true;
      if (a.includes('i')) include = true;
      if (a.includes('I')) head = true;
    } else if (a === '--silent') silent = true;
    else if (a === '--show-error') showError = true;
    else if (a === '--fail') failOnError = true;
    else if (a === '--include') include = true;
    else if (a === '--head') head = true;
    else if (a === '--location') continue;
    else if (a === '-o' || a === '--output') {
      const target = args[++i];
      if (target !== '/dev/null') return fail('lab: curl -o only to /dev/null (the lab writes no files)', 1);
      discardBody = true;
    } else if (a === '-w' || a === '--write-out') writeOut = args[++i];
    else if (a === '-m' || a === '--max-time' || a === '--connect-timeout') maxTimeS = Math.min(Number(args[++i]) || 10, 30);
    else if (a.startsWith('-')) return fail(`lab: curl option ${a} is not supported by the lab`, 1);
    else url = a;
  }
  if (!url) return fail('curl: no URL specified!', 2);
  let parsed: URL;
  try {
    parsed = new URL(/^[a-z]+:\/\//i.test(url) ? url : `http://${url}`);
  } catch {
    return fail(`curl: (3) URL rejected: Malformed input to a URL function`, 3);
  }
  if (parsed.protocol !== 'http:') return fail(`curl: (1) Protocol "${parsed.protocol.replace(':', '')}" not supported by the lab`, 1);
  const host = parsed.hostname;
  const port = Number(parsed.port || 80);
  const curlError = (code: number, message: string): Output => ({
    stdout: writeOut !== undefined ? expandWriteOut(writeOut, 0) : '',
    stderr: !silent || showError ? `curl: (${code}) ${message}\n` : '',
    exitCode: code,
  });

  const dest = destination(host, port, ctx);
  if (dest.kind === 'unresolvable') return curlError(6, `Could not resolve host: ${host}`);
  if (dest.kind === 'refused') return curlError(7, `Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server`);
  if (dest.kind === 'unroutable' || dest.kind === 'postgres') {
    return curlError(7, `Failed to connect to ${host} port ${port}: the lab routes only HTTP to the backends' port 80`);
  }

  const response = await httpGet(dest.host, dest.port, `${parsed.pathname}${parsed.search}`, head ? 'HEAD' : 'GET', maxTimeS * 1000);
  if (response.kind === 'refused') return curlError(7, `Failed to connect to ${host} port ${port} after 0 ms: Couldn't connect to server`);
  if (response.kind === 'timeout') return curlError(28, `Operation timed out after ${maxTimeS * 1000} milliseconds with 0 bytes received`);
  if (failOnError && response.status >= 400) return curlError(22, `The requested URL returned error: ${response.status}`);

  let stdout = '';
  if (include || head) stdout += `HTTP/1.1 ${response.status} ${response.statusText}\r\n${response.headers}\r\n`;
  if (!discardBody && !head) stdout += response.body;
  if (writeOut !== undefined) stdout += expandWriteOut(writeOut, response.status);
  return ok(stdout);
}

function expandWriteOut(format: string, status: number): string {
  return format.replace(/%\{http_code\}|%\{response_code\}/g, String(status).padStart(3, '0')).replace(/\\n/g, '\n');
}

type HttpResult =
  | { kind: 'response'; status: number; statusText: string; headers: string; body: string }
  | { kind: 'refused' }
  | { kind: 'timeout' };

function httpGet(host: string, port: number, path: string, method: string, timeoutMs: number): Promise<HttpResult> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, method, headers: { 'user-agent': 'curl/8.5.0', accept: '*/*' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const headers = Object.entries(res.headers)
          .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}\r\n`)
          .join('');
        resolve({ kind: 'response', status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers, body });
      });
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve({ kind: 'timeout' });
    });
    req.on('error', () => resolve({ kind: 'refused' }));
    req.end();
  });
}
