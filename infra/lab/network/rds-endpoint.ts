import { randomInt } from 'node:crypto';
import net from 'node:net';
import type { AwsCall, AwsReply } from '../contract';
import type { ReplyRewriter } from '../gateway/server';

// Where each of the lab's RDS endpoints is: an address of its own on the loopback network
// (127.x.y.z, chosen at random so two labs, two instances of one lab, or a lab and a rogue listener,
// never share one) on the instance's own port, so that the address DescribeDBInstances reports really accepts connections, as it does
// inside the VPC. Moto's name for the instance (linkbox-db.aaaaaaaaaa.<region>.rds.amazonaws.com)
// resolves nowhere; it stays the certificate's DNS name.
//
// Port 5432 on the address is what RDS reports and what the security groups and
// start_application.sh (which writes ":5432" into DATABASE_URL) expect. Only where 5432 cannot be
// had on any loopback address (something holds 0.0.0.0:5432) or where only 127.0.0.1 exists
// (macOS) does the endpoint fall back to a port the kernel picks, which DescribeDBInstances then
// reports.

export interface Endpoint {
  host: string;
  port: number;
}

const ATTEMPTS = 8;

/**
 * A free loopback address and port, preferring `preferredPort` on an address nobody else uses
 * (nor any endpoint in `taken`: each RDS instance of the lab has an address of its own).
 */
export async function chooseLoopbackEndpoint(preferredPort: number, taken: Endpoint[] = []): Promise<Endpoint> {
  let lastCode: string | undefined;
  for (let i = 0; i < ATTEMPTS; i++) {
    const host = randomLoopbackAddress();
    if (taken.some((t) => t.host === host)) continue;
    const outcome = await probe(host, preferredPort);
    if (outcome === 'free') return { host, port: preferredPort };
    lastCode = outcome;
    if (outcome === 'EADDRNOTAVAIL') break;
  }
  const host = lastCode === 'EADDRNOTAVAIL' ? '127.0.0.1' : randomLoopbackAddress();
  const address = await listenOnce(host, 0);
  return { host, port: address };
}

/** 127.a.b.c with a ≥ 1: clear of 127.0.0.1, Debian's 127.0.1.1 and systemd-resolved's 127.0.0.53. */
function randomLoopbackAddress(): string {
  return `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
}

async function probe(host: string, port: number): Promise<'free' | string> {
  try {
    await listenOnce(host, port);
    return 'free';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? 'error';
  }
}

function listenOnce(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
    });
  });
}

/**
 * Rewrites the Endpoint of each of the lab's instances in every RDS answer (CreateDBInstance,
 * Describe..., Modify..., ...) to where the DB network really listens for it, and remembers moto's
 * own name for each.
 */
export function reportEndpoints(endpoints: ReadonlyMap<string, Endpoint>): ReplyRewriter & { motoAddress(instanceId: string): string | undefined } {
  const motoAddresses = new Map<string, string>();
  return {
    applies: (call: AwsCall) => call.service === 'rds',
    rewrite(_call: AwsCall, reply: AwsReply): AwsReply {
      if (reply.status < 200 || reply.status >= 300 || !reply.body.includes('<Endpoint>')) return reply;
      const body = reply.body.replace(/<DBInstance>([\s\S]*?)<\/DBInstance>/g, (block: string) => {
        const instanceId = /<DBInstanceIdentifier>([^<]*)<\/DBInstanceIdentifier>/.exec(block)?.[1];
        const endpoint = instanceId === undefined ? undefined : endpoints.get(instanceId);
        if (!instanceId || !endpoint) return block;
        return block.replace(/<Endpoint>([\s\S]*?)<\/Endpoint>/, (whole: string, inner: string) => {
          const address = /<Address>([^<]*)<\/Address>/.exec(inner)?.[1];
          if (address && !motoAddresses.has(instanceId)) motoAddresses.set(instanceId, address);
          return whole.replace(/<Address>[^<]*<\/Address>/, `<Address>${endpoint.host}</Address>`).replace(/<Port>[^<]*<\/Port>/, `<Port>${endpoint.port}</Port>`);
        });
      });
      return { ...reply, body };
    },
    motoAddress: (instanceId) => motoAddresses.get(instanceId),
  };
}
