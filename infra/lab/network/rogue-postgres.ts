import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createCertificateAuthority, issueServerCertificate, type CertificateFiles } from '../tls';
import { chooseLoopbackEndpoint } from './rds-endpoint';

// An attacker's PostgreSQL, for tests that prove the console never hands the password to a host it
// should not trust — e.g. one named by the SSM `db-endpoint` String, which anyone with
// ssm:PutParameter can change. It speaks just enough of PostgreSQL's protocol to be asked for a
// login, asks for the password in clear text (AuthenticationCleartextPassword, so a client that
// does not insist on verified TLS simply sends it), records what it receives, and refuses the login.
//
// - `cleartext-password`: no TLS at all (answers an SSLRequest with 'N').
// - `other-ca-tls`: TLS with a certificate for the listener's own address from a CA of its own: a
//   client that verifies against the lab CA refuses it.
// - `wrong-name-tls`: TLS with a certificate from the lab CA itself, but for another name (as any
//   other RDS instance has one from the RDS CA): a client that checks the host name refuses it.

export type RogueMode = 'cleartext-password' | 'other-ca-tls' | 'wrong-name-tls';

export interface RogueListenerOptions {
  mode: RogueMode;
  /** Where to listen. By default a loopback address of its own on port 5432, the console's dbPort. */
  host?: string;
  port?: number;
  /** The lab's CA (Lab.tlsCaPath, Lab.tlsCaKeyPath); `wrong-name-tls` needs it to sign its certificate. */
  labCa?: { certPath: string; keyPath: string };
  /** The names its certificate claims: other-ca-tls defaults to its own address, wrong-name-tls to another database's name. */
  certificateNames?: string[];
}

export interface ReceivedLogin {
  user: string | undefined;
  database: string | undefined;
  /** Every startup parameter (application_name tells a console's login from a backend's). */
  parameters: Record<string, string>;
  password: string;
  /** Whether the password came over TLS. */
  tls: boolean;
}

export interface RogueListener {
  host: string;
  port: number;
  mode: RogueMode;
  /** Every password a client sent, in order. */
  received: ReceivedLogin[];
  /** Connections it saw (with or without a password). */
  connections(): number;
  /** The CA behind its certificate (other-ca-tls: its own; wrong-name-tls: the lab's). */
  caPath: string | undefined;
  stop(): Promise<void>;
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

export async function startRogueListener(options: RogueListenerOptions): Promise<RogueListener> {
  const endpoint = options.host !== undefined || options.port !== undefined ? { host: options.host ?? '127.0.0.1', port: options.port ?? 0 } : await chooseLoopbackEndpoint(5432);
  const workDir = await mkdtemp(join(tmpdir(), 'lab-rogue-'));
  let certificate: { key: string; cert: string } | undefined;
  let caPath: string | undefined;
  try {
    if (options.mode === 'other-ca-tls') {
      const ca = await createCertificateAuthority(workDir, 'rogue-ca', `Rogue CA ${randomBytes(3).toString('hex')}`);
      certificate = await load(await issueServerCertificate(ca, workDir, 'rogue', options.certificateNames ?? [endpoint.host]));
      caPath = ca.certPath;
    } else if (options.mode === 'wrong-name-tls') {
      if (!options.labCa) throw new Error('wrong-name-tls needs labCa (the lab CA\'s certificate and key) to sign its certificate');
      certificate = await load(await issueServerCertificate(options.labCa, workDir, 'rogue', options.certificateNames ?? ['another-db.aaaaaaaaaa.us-east-1.rds.amazonaws.com']));
      caPath = options.labCa.certPath;
    }
  } catch (err) {
    await rm(workDir, { recursive: true, force: true });
    throw err;
  }

  const received: ReceivedLogin[] = [];
  const sockets = new Set<net.Socket>();
  let connections = 0;

  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    void converse(socket, false).catch(() => socket.destroy());
  });

  /** One client: SSL/GSS negotiation, startup, a cleartext password request, a refusal. */
  const converse = async (socket: net.Socket, overTls: boolean): Promise<void> => {
    const reader = new MessageReader(socket);
    for (;;) {
      const startup = await reader.untyped();
      const code = startup.readInt32BE(0);
      if (code === SSL_REQUEST && !overTls) {
        if (!certificate) {
          socket.write('N');
          continue;
        }
        reader.detach();
        socket.write('S');
        const secure = new tls.TLSSocket(socket, { isServer: true, key: certificate.key, cert: certificate.cert });
        secure.on('error', () => socket.destroy());
        return converse(secure, true);
      }
      if (code === GSSENC_REQUEST) {
        socket.write('N');
        continue;
      }
      if (code === CANCEL_REQUEST) return void socket.end();
      if (code !== PROTOCOL_3) return void socket.end(errorResponse('08P01', 'unsupported frontend protocol'));
      const params = startupParameters(startup.subarray(4));
      socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])); // 'R', AuthenticationCleartextPassword
      const { type, body } = await reader.typed();
      if (type !== 'p') return void socket.end();
      received.push({ user: params.user, database: params.database ?? params.user, parameters: params, password: body.subarray(0, body.indexOf(0)).toString('utf8'), tls: overTls });
      socket.end(errorResponse('28P01', `password authentication failed for user "${params.user ?? ''}"`));
      return;
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(endpoint.port, endpoint.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : endpoint.port;

  return {
    host: endpoint.host,
    port,
    mode: options.mode,
    received,
    connections: () => connections,
    caPath,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function load(files: CertificateFiles): Promise<{ key: string; cert: string }> {
  return { key: await readFile(files.keyPath, 'utf8'), cert: await readFile(files.certPath, 'utf8') };
}

function startupParameters(bytes: Buffer): Record<string, string> {
  const parts = bytes.toString('utf8').split('\0');
  const params: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length && parts[i]; i += 2) params[parts[i]!] = parts[i + 1]!;
  return params;
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0\0`, 'utf8');
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([head, fields]);
}

/** Reads PostgreSQL frontend messages from a socket: the untyped startup packets, then typed ones. */
class MessageReader {
  private buffer = Buffer.alloc(0);
  private waiting: (() => void) | undefined;
  private ended = false;
  private readonly onData = (chunk: Buffer) => {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    this.waiting?.();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.waiting?.();
  };

  constructor(private readonly socket: net.Socket) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
  }

  /** Stops reading (before the socket is handed to TLS). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
  }

  async untyped(): Promise<Buffer> {
    const length = (await this.take(4)).readInt32BE(0);
    if (length < 8 || length > 10_000) throw new Error('bad startup packet');
    return this.take(length - 4);
  }

  async typed(): Promise<{ type: string; body: Buffer }> {
    const head = await this.take(5);
    const length = head.readInt32BE(1);
    if (length < 4 || length > 10_000) throw new Error('bad message');
    return { type: String.fromCharCode(head[0]!), body: await this.take(length - 4) };
  }

  private async take(n: number): Promise<Buffer> {
    while (this.buffer.length < n) {
      if (this.ended) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = undefined;
    }
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }
}
