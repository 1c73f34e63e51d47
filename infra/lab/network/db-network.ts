import net from 'node:net';
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, EC2Client, type IpPermission } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { ingressAdmits, type Source } from './ingress';

// The network between LinkBox's hosts and the RDS endpoint. Each simulated source gets its own
// listener, so the lab knows who is connecting:
// - each backend instance (on 127.0.0.1; the hosts send their connections to the RDS endpoint there);
// - `tunnel`: an SSM port-forwarding session, which leaves AWS through the first backend instance
//   and so carries its security groups (on 127.0.0.1; the console's `reachVia`);
// - `console`: the ops console deployed inside the VPC, as its own CDK stack would put it, with a
//   security group of its own that the DB group admits (seeded as linkbox-ops-console-sg). It is
//   not a backend, so revoking the backends' rule does not cut it off, and revoking its own rule
//   does. Its listener is the address and port DescribeDBInstances reports (rds-endpoint.ts), so a
//   console configured without reachVia really connects where RDS says the database is.
// Admission follows the DB security groups' current ingress as EC2 reports it; what is not admitted
// is accepted and then never answered, like a dropped SYN. A stopped or rebooting instance has no
// listener at all, so connections are refused.

export const TUNNEL = 'tunnel';
export const CONSOLE = 'console';

/** RDS states in which nothing listens on the endpoint. */
const NOT_LISTENING = new Set(['stopped', 'stopping', 'starting', 'rebooting', 'deleting', 'failed', 'inaccessible-encryption-credentials']);

export interface DbNetworkOptions {
  /** moto itself, not the gateway: the network's own reads are not AWS calls anyone made. */
  motoUrl: string;
  region: string;
  rdsInstanceId: string;
  /** PostgreSQL, where admitted connections go. */
  upstream: { host: string; port: number };
  /** The backend instances, in seed order; the first one carries the tunnel. */
  instanceIds: string[];
  /** The console inside the VPC: where RDS says the endpoint is, and the console's security groups. */
  console: { endpoint: { host: string; port: number }; securityGroupIds: string[] };
  syncIntervalMs: number;
  log: (line: string) => void;
}

export interface DbNetwork {
  /** Where `sourceId` (an instance id, `tunnel` or `console`) connects to reach the RDS endpoint. */
  route(sourceId: string): { host: string; port: number };
  sources(): string[];
  /** Re-reads the security groups and the instance's state now instead of at the next tick. */
  refresh(): Promise<void>;
  /** RDS physics holds the endpoint down while a reboot lasts (moto has no rebooting state). */
  setRebooting(rebooting: boolean): Promise<void>;
  stop(): Promise<void>;
}

interface View {
  rdsStatus: string;
  dbPort: number;
  ingress: IpPermission[];
  sources: Map<string, Source>;
}

interface Listener {
  host: string;
  port: number;
  server: net.Server | undefined;
}

export async function startDbNetwork(options: DbNetworkOptions): Promise<DbNetwork> {
  const clientConfig = {
    region: options.region,
    endpoint: options.motoUrl,
    credentials: { accessKeyId: 'lab-internal', secretAccessKey: 'lab-internal' },
    maxAttempts: 1,
  };
  const ec2 = new EC2Client(clientConfig);
  const rds = new RDSClient(clientConfig);
  const sourceIds = [...options.instanceIds, TUNNEL, CONSOLE];
  const listeners = new Map<string, Listener>(
    sourceIds.map((id) => [id, id === CONSOLE ? { ...options.console.endpoint, server: undefined } : { host: '127.0.0.1', port: 0, server: undefined }]),
  );
  const proxied = new Set<{ client: net.Socket; server: net.Socket }>();
  const held = new Set<net.Socket>();
  let view: View | undefined;
  let rebooting = false;
  let stopped = false;
  let syncFailing = false;
  let syncing: Promise<void> | undefined;

  const read = async (): Promise<View> => {
    const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: options.rdsInstanceId })).catch((err: Error) => {
      if (err.name === 'DBInstanceNotFoundFault' || err.name === 'DBInstanceNotFound') return { DBInstances: [] };
      throw err;
    });
    const db = DBInstances?.[0];
    const groupIds = (db?.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).filter((id): id is string => !!id);
    const ingress: IpPermission[] = [];
    if (groupIds.length > 0) {
      const { SecurityGroups } = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: groupIds }));
      for (const group of SecurityGroups ?? []) ingress.push(...(group.IpPermissions ?? []));
    }
    const sources = new Map<string, Source>();
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: options.instanceIds }));
    for (const instance of (Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      sources.set(instance.InstanceId!, {
        securityGroupIds: (instance.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean),
        privateIp: instance.PrivateIpAddress,
      });
    }
    const carrier = options.instanceIds[0];
    if (carrier && sources.has(carrier)) sources.set(TUNNEL, sources.get(carrier)!);
    // No CIDR rule names the console: it has no instance, so no private IP of its own in the lab.
    sources.set(CONSOLE, { securityGroupIds: options.console.securityGroupIds, privateIp: undefined });
    return { rdsStatus: db?.DBInstanceStatus ?? 'deleted', dbPort: db?.Endpoint?.Port ?? 5432, ingress, sources };
  };

  const admits = (sourceId: string) => {
    const source = view?.sources.get(sourceId);
    return !!view && !!source && ingressAdmits(view.ingress, view.dbPort, source);
  };

  const onConnection = (sourceId: string) => (client: net.Socket) => {
    client.on('error', () => undefined);
    if (!admits(sourceId)) {
      // A dropped packet: no answer, no reset, until the client gives up.
      client.pause();
      held.add(client);
      client.on('close', () => held.delete(client));
      return;
    }
    const server = net.connect(options.upstream.port, options.upstream.host);
    const pair = { client, server };
    proxied.add(pair);
    server.on('error', () => client.destroy());
    client.on('close', () => {
      server.destroy();
      proxied.delete(pair);
    });
    server.on('close', () => client.destroy());
    client.pipe(server);
    server.pipe(client);
  };

  const listening = () => !stopped && !rebooting && !!view && !NOT_LISTENING.has(view.rdsStatus);

  const open = async () => {
    for (const [sourceId, listener] of listeners) {
      if (listener.server) continue;
      const server = net.createServer({ pauseOnConnect: false }, onConnection(sourceId));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          // The port stays the same across stop/start, as the endpoint's address does.
          server.listen(listener.port, listener.host, () => resolve());
        });
      } catch (err) {
        options.log(`DB network: cannot listen for ${sourceId} on ${listener.host}:${listener.port}: ${(err as Error).message}`);
        continue;
      }
      const address = server.address();
      if (typeof address === 'object' && address) listener.port = address.port;
      listener.server = server;
    }
  };

  const close = async () => {
    const closing: Array<Promise<void>> = [];
    for (const listener of listeners.values()) {
      const server = listener.server;
      listener.server = undefined;
      if (server) closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    // The server went away under its sessions: they end abruptly, as when RDS stops or reboots.
    for (const { client, server } of proxied) {
      client.resetAndDestroy();
      server.destroy();
    }
    proxied.clear();
    for (const socket of held) socket.resetAndDestroy();
    held.clear();
    await Promise.all(closing);
  };

  const apply = async () => {
    if (listening()) await open();
    else await close();
  };

  const sync = () => {
    syncing ??= (async () => {
      try {
        view = await read();
        if (syncFailing) options.log('DB network: reading security groups from EC2 works again');
        syncFailing = false;
      } catch (err) {
        if (!syncFailing) options.log(`DB network: cannot read security groups from EC2, keeping the last rules (${(err as Error).message})`);
        syncFailing = true;
      }
      await apply();
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  await sync();
  if (!view) throw new Error('the DB network could not read the security groups from moto');
  await open(); // every source gets its port now, so routes are known even if RDS starts stopped
  if (!listeners.get(CONSOLE)!.server) {
    const { host, port } = options.console.endpoint;
    await close();
    throw new Error(`the DB network cannot listen on the RDS endpoint ${host}:${port}`);
  }
  await apply();

  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    timer = setTimeout(() => {
      void sync().finally(() => {
        if (!stopped) tick();
      });
    }, options.syncIntervalMs);
  };
  tick();

  return {
    route(sourceId) {
      const listener = listeners.get(sourceId);
      if (!listener) throw new Error(`no DB network route for "${sourceId}" (sources: ${sourceIds.join(', ')})`);
      return { host: listener.host, port: listener.port };
    },
    sources: () => [...sourceIds],
    refresh: async () => {
      if (syncing) await syncing; // a read already under way may predate the change just made
      await sync();
    },
    setRebooting: async (value) => {
      rebooting = value;
      await apply();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      if (syncing) await syncing.catch(() => undefined);
      await close();
      ec2.destroy();
      rds.destroy();
    },
  };
}
