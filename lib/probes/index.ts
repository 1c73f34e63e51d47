import 'server-only';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { redact, shorten } from '@/lib/redact';

// Direct network probes from the console: a TCP connect plus PostgreSQL's SSLRequest (so "accepted
// but nobody answers" reads as timed out, as a dropping firewall or a dead tunnel does), and an HTTP
// GET for the backends' /health. The checks, the runbooks and the rolling restart all probe here.

/** Where the console reaches a backend's /health: the configured URL, else its private IP. */
export function healthUrl(
  health: { port: number; path: string; urls: Record<string, string> },
  instance: { id: string; privateIp: string | null },
): string | null {
  return health.urls[instance.id] ?? (instance.privateIp ? `http://${instance.privateIp}:${health.port}${health.path}` : null);
}

export type TcpOutcome = 'answered' | 'refused' | 'connect-timeout' | 'no-answer' | 'dns' | 'unreachable' | 'closed' | 'error';

export interface TcpProbe {
  outcome: TcpOutcome;
  /** Time to the TCP handshake. */
  connectMs: number | null;
  /** Time to the server's answer to SSLRequest. */
  latencyMs: number | null;
  /** "S": the server offers TLS, "N": it does not. */
  sslAnswer: string | null;
  detail: string;
}

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);

export function probePostgres(host: string, port: number, timeoutMs: number): Promise<TcpProbe> {
  return new Promise((resolve) => {
    const started = performance.now();
    let connectMs: number | null = null;
    let settled = false;
    const socket = connect({ host, port });
    const finish = (probe: Omit<TcpProbe, 'connectMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...probe, connectMs });
    };
    const timer = setTimeout(() => {
      if (connectMs === null) finish({ outcome: 'connect-timeout', latencyMs: null, sslAnswer: null, detail: `no TCP handshake within ${timeoutMs} ms` });
      else finish({ outcome: 'no-answer', latencyMs: null, sslAnswer: null, detail: `connected, but no PostgreSQL answer within ${timeoutMs} ms` });
    }, timeoutMs);
    socket.once('connect', () => {
      connectMs = Math.round(performance.now() - started);
      socket.write(SSL_REQUEST);
    });
    socket.once('data', (chunk: Buffer) => {
      const answer = String.fromCharCode(chunk[0] ?? 0);
      const latencyMs = Math.round(performance.now() - started);
      if (answer === 'S' || answer === 'N') finish({ outcome: 'answered', latencyMs, sslAnswer: answer, detail: `PostgreSQL answered in ${latencyMs} ms` });
      else finish({ outcome: 'answered', latencyMs, sslAnswer: null, detail: `something answered in ${latencyMs} ms, but not like PostgreSQL` });
    });
    socket.once('end', () => finish({ outcome: 'closed', latencyMs: null, sslAnswer: null, detail: 'the connection was closed without an answer' }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') finish({ outcome: 'refused', latencyMs: null, sslAnswer: null, detail: `connection refused on ${host}:${port}` });
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENODATA') finish({ outcome: 'dns', latencyMs: null, sslAnswer: null, detail: `the name ${host} does not resolve (${code})` });
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') finish({ outcome: 'unreachable', latencyMs: null, sslAnswer: null, detail: `no route to ${host} (${code})` });
      else if (code === 'ETIMEDOUT') finish({ outcome: 'connect-timeout', latencyMs: null, sslAnswer: null, detail: `the TCP handshake timed out (${code})` });
      else if (code === 'ECONNRESET' || code === 'EPIPE') finish({ outcome: 'closed', latencyMs: null, sslAnswer: null, detail: `the connection was reset (${code})` });
      else finish({ outcome: 'error', latencyMs: null, sslAnswer: null, detail: `${code || err.name}: ${err.message}` });
    });
  });
}

export interface HttpProbe {
  /** null when no HTTP answer came. */
  statusCode: number | null;
  latencyMs: number | null;
  outcome: 'answered' | 'refused' | 'timeout' | 'dns' | 'unreachable' | 'error';
  /** A short excerpt of a non-200 body, with any URL password masked. */
  bodyExcerpt: string | null;
  detail: string;
}

export function probeHttp(url: string, timeoutMs: number): Promise<HttpProbe> {
  return new Promise((resolve) => {
    const started = performance.now();
    let settled = false;
    const done = (p: HttpProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(p);
    };
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = send(url, { method: 'GET', headers: { 'user-agent': 'linkbox-ops-console' } }, (res) => {
      const statusCode = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < 2048) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const latencyMs = Math.round(performance.now() - started);
        const body = statusCode === 200 ? null : shorten(redact(Buffer.concat(chunks).toString('utf8')), 200) || null;
        done({ statusCode, latencyMs, outcome: 'answered', bodyExcerpt: body, detail: `HTTP ${statusCode} in ${latencyMs} ms` });
      });
      res.on('error', () => done({ statusCode, latencyMs: null, outcome: 'error', bodyExcerpt: null, detail: `HTTP ${statusCode}, body cut off` }));
    });
    const timer = setTimeout(() => done({ statusCode: null, latencyMs: null, outcome: 'timeout', bodyExcerpt: null, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? '';
      if (code === 'ECONNREFUSED') done({ statusCode: null, latencyMs: null, outcome: 'refused', bodyExcerpt: null, detail: 'connection refused: nothing listening' });
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') done({ statusCode: null, latencyMs: null, outcome: 'dns', bodyExcerpt: null, detail: `the host name does not resolve (${code})` });
      else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') done({ statusCode: null, latencyMs: null, outcome: 'unreachable', bodyExcerpt: null, detail: `no route to the host (${code})` });
      else if (code === 'ETIMEDOUT') done({ statusCode: null, latencyMs: null, outcome: 'timeout', bodyExcerpt: null, detail: `timed out (${code})` });
      else done({ statusCode: null, latencyMs: null, outcome: 'error', bodyExcerpt: null, detail: `${code || err.name}: ${err.message}` });
    });
    req.end();
  });
}
