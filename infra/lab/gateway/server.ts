import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AwsCall, AwsReply } from '../contract';
import { PortInUseError, sleep } from '../ports';
import { handleControl, type ControlDeps } from './control';
import { createKmsDeniedCheck } from './kms-denied';
import { parseAwsCall } from './parse';
import { errorReply, labError } from './replies';

// The one AWS endpoint of the lab. Every call is counted, then faults apply, then the lab's own
// behaviour (RDS physics, Run Command, ...) may answer it; everything else goes to moto untouched,
// byte for byte, so the SigV4 signature the client computed still matches what moto receives.
// Right after counting, IAM enforcement (infra/lab/iam) decides whether the caller may make the call.
// A lost-answer fault acts last: the call has had all its effects when its answer is dropped or
// held back, as when a response is lost on the way back from AWS.

/**
 * Answers a call itself, or returns undefined to pass it on. `forward` sends the untouched request
 * to moto and gives back its buffered answer, for behaviour that wraps moto's (RDS physics).
 */
export type CallHandler = (call: AwsCall, forward: () => Promise<AwsReply>) => Promise<AwsReply | undefined>;

/** Changes an answer on its way back (whoever produced it), for the calls it applies to. */
export interface ReplyRewriter {
  applies(call: AwsCall): boolean;
  rewrite(call: AwsCall, reply: AwsReply): AwsReply;
}

export interface GatewayOptions extends ControlDeps {
  port: number;
  /** Which setting chose the port, named when it is taken. */
  portSetting: string;
  motoUrl: string;
  region: string;
  log: (line: string) => void;
  /** IAM enforcement: undefined lets the call through, a reply refuses it (infra/lab/iam/enforcer.ts). */
  authorize?: (call: AwsCall) => Promise<AwsReply | undefined>;
}

export interface Gateway {
  url: string;
  port: number;
  /** Adds lab behaviour; handlers are asked in the order they were added. */
  use(handler: CallHandler): void;
  /** Adds a rewriter; those that apply to a call run in the order they were added. */
  rewrite(rewriter: ReplyRewriter): void;
  stop(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']);
const MAX_BODY = 16 * 1024 * 1024;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const handlers: CallHandler[] = [];
  const rewriters: ReplyRewriter[] = [];
  const moto = new URL(options.motoUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const kmsDenial = createKmsDeniedCheck(options.motoUrl);

  const toMoto = (req: IncomingMessage) =>
    http.request({ host: moto.hostname, port: moto.port, method: req.method, path: req.url, headers: req.headers, agent });

  const forwardBuffered = (req: IncomingMessage, body: Buffer): Promise<AwsReply> =>
    new Promise((resolve, reject) => {
      const upstream = toMoto(req);
      upstream.on('error', reject);
      upstream.on('response', (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('error', reject);
        answer.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(answer.headers)) {
            if (v === undefined || HOP_BY_HOP.has(k) || k === 'content-length') continue;
            headers[k] = Array.isArray(v) ? v.join(', ') : v;
          }
          resolve({ status: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      upstream.end(body);
    });

  const forwardStreaming = (req: IncomingMessage, res: ServerResponse, body: Buffer, service: string) => {
    const upstream = toMoto(req);
    upstream.on('error', (err) => {
      options.log(`moto did not answer (${err.message})`);
      if (!res.headersSent) send(res, errorReply(service, { ...labError(service, 'InternalError'), status: 502, message: 'the lab could not reach moto' }));
      else res.destroy();
    });
    upstream.on('response', (answer) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(answer.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      res.writeHead(answer.statusCode ?? 502, headers);
      answer.pipe(res);
    });
    upstream.end(body);
  };

  const handleAws = async (req: IncomingMessage, res: ServerResponse, body: Buffer) => {
    const call = parseAwsCall({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, options.region);
    if (!call) return forwardStreaming(req, res, body, 'unknown');

    options.counters.count(call);
    const refusal = await options.authorize?.(call);
    if (refusal) return send(res, refusal);

    const latency = options.faults.latencyFor(call);
    if (latency > 0) await sleep(latency);
    const error = options.faults.errorFor(call);
    if (error) return send(res, errorReply(call.service, labError(call.service, error)));
    if (options.faults.kmsDenied()) {
      const denial = await kmsDenial(call);
      if (denial) return send(res, errorReply(call.service, denial));
    }

    const lost = options.faults.lostAnswerFor(call);
    const rewriting = rewriters.filter((r) => r.applies(call));
    let reply: AwsReply | undefined;
    for (const handler of handlers) {
      reply = await handler(call, () => forwardBuffered(req, body));
      if (reply) break;
    }
    if (!reply) {
      if (!lost && rewriting.length === 0) return forwardStreaming(req, res, body, call.service);
      reply = await forwardBuffered(req, body).catch(() => errorReply(call.service, { ...labError(call.service, 'InternalError'), status: 502, message: 'the lab could not reach moto' }));
    }
    for (const rewriter of rewriting) reply = rewriter.rewrite(call, reply);
    if (!lost) return send(res, reply);

    const what = `${call.service} ${call.action} landed (HTTP ${reply.status})`;
    if (lost.mode === 'drop') {
      options.log(`lost-answer fault: ${what}; the connection was closed without its answer`);
      req.socket.destroy();
      return;
    }
    options.log(`lost-answer fault: ${what}; its answer is held ${lost.ms} ms`);
    await untilClosedOr(res, lost.ms);
    if (!res.destroyed && !res.writableEnded) send(res, reply);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isControl = (req.url ?? '').startsWith('/_lab');
      const work = isControl ? (async () => handleControl(req, res, body, options))() : handleAws(req, res, body);
      work.catch((err: Error) => {
        // The message names the failure, never the request body (it may carry a password).
        options.log(`gateway error on ${isControl ? req.url : 'an AWS call'}: ${err.message}`);
        if (res.headersSent) return void res.destroy();
        if (isControl) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'lab gateway error' }));
        } else {
          const call = parseAwsCall({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body }, options.region);
          const service = call?.service ?? 'unknown';
          send(res, errorReply(service, { ...labError(service, 'InternalError'), message: 'the lab gateway failed on this call' }));
        }
      });
    });
  });
  server.keepAliveTimeout = 5000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? new PortInUseError(options.port, options.portSetting) : err),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    use: (handler) => void handlers.push(handler),
    rewrite: (rewriter) => void rewriters.push(rewriter),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

/** Waits `ms`, or less if the caller gives up (or the gateway stops) first. */
function untilClosedOr(res: ServerResponse, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      res.off('close', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    res.once('close', done);
  });
}

function send(res: ServerResponse, reply: AwsReply): void {
  const body = Buffer.from(reply.body, 'utf8');
  res.writeHead(reply.status, { ...reply.headers, 'content-length': body.length });
  res.end(body);
}
