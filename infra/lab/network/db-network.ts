import net from 'node:net';
import {
  DescribeInstancesCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  type IpPermission,
  type NetworkAcl,
  type SecurityGroup,
} from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { egressAdmits, ingressAdmits, type Source } from './ingress';
import { aclDropsFlow, type AclDrop } from './nacl';

// The network between LinkBox's hosts and the RDS endpoints (one per environment the lab seeded,
// all served by one PostgreSQL). Each simulated source gets its own listener, so the lab knows who
// is connecting, and each source reaches one RDS instance: its own environment's.
// - each backend instance (on 127.0.0.1; the hosts send their connections to their RDS endpoint there);
// - `tunnel`: an SSM port-forwarding session, which leaves AWS through the database's first backend
//   instance and so carries its security groups, address and subnet (on 127.0.0.1; the console's
//   `reachVia`); the first database's is `tunnel`, another's `tunnel:<its id>`;
// - `console`: the ops console deployed inside the VPC, as its own CDK stack would put it, with a
//   security group of its own that the DB group admits (seeded as linkbox-ops-console-sg). It is
//   not a backend, so revoking the backends' rule does not cut it off, and revoking its own rule
//   does. Its listener is the address and port DescribeDBInstances reports (rds-endpoint.ts), so a
//   console configured without reachVia really connects where RDS says the database is (one per
//   database: `console`, `console:<id>`). It has no instance, so no address or subnet of its own:
//   CIDR rules and network ACLs never apply to it.
// Every `syncIntervalMs` the network re-reads, from moto, each instance's own security groups,
// private IP and subnet (DescribeInstances), the rules of every group in the VPC
// (DescribeSecurityGroups), the VPC's network ACLs and their subnet associations
// (DescribeNetworkAcls), and where each RDS instance sits (DescribeDBInstances: status, port,
// groups; DescribeNetworkInterfaces: its "RDSNetworkInterface" in the DB subnet and its address),
// five reads however many environments there are.
//
// A new connection gets through when, as in a VPC: the source's groups allow egress to the DB on
// its port, the DB's groups admit the source (by group or by a CIDR holding its address), and the
// network ACLs pass all four legs of the flow (see nacl.ts). The flow's client port is the source
// port the kernel gave the simulated host's socket: Linux draws it from 32768-60999
// (net.ipv4.ip_local_port_range), as the backend's own Linux would; a kernel configured otherwise
// has its port folded into that range. What is not let through is accepted and never answered —
// a dropped SYN, or a dropped SYN-ACK when only the reply path is denied, looks the same to the
// client: a connect timeout. Security groups are stateful, so an open session survives a rule's
// removal; network ACLs are not, so an open session whose packets an ACL change starts dropping
// stalls (nothing moves either way) until the ACLs let it through again. A stopped or rebooting
// instance has no listeners at all, so connections to it are refused (and only to it).

export const TUNNEL = 'tunnel';
export const CONSOLE = 'console';

/** The first database keeps the plain names, so a one-environment lab reads as it always has. */
const tunnelSource = (databaseIndex: number, rdsInstanceId: string) => (databaseIndex === 0 ? TUNNEL : `${TUNNEL}:${rdsInstanceId}`);
const consoleSource = (databaseIndex: number, rdsInstanceId: string) => (databaseIndex === 0 ? CONSOLE : `${CONSOLE}:${rdsInstanceId}`);

/** RDS states in which nothing listens on the endpoint. */
/** What RDS calls the network interface it puts in the VPC for an instance (the seed makes one). */
export const RDS_INTERFACE_DESCRIPTION = 'RDSNetworkInterface';

const NOT_LISTENING = new Set(['stopped', 'stopping', 'starting', 'rebooting', 'deleting', 'failed', 'inaccessible-encryption-credentials']);

/** One RDS instance on the network, and the backends whose connections go to it. */
export interface NetworkDatabase {
  rdsInstanceId: string;
  /** Where RDS says the endpoint is: the console inside the VPC connects here. */
  endpoint: { host: string; port: number };
  /** Its "RDSNetworkInterface" (RDS knows its own; several may share a subnet). */
  networkInterfaceId: string;
  /** Its environment's backend instances, in seed order; the first one carries the tunnel. */
  instanceIds: string[];
}

export interface DbNetworkOptions {
  /** moto itself, not the gateway: the network's own reads are not AWS calls anyone made. */
  motoUrl: string;
  region: string;
  /** The first is `linkbox-db`, whose tunnel and console sources are `tunnel` and `console`. */
  databases: NetworkDatabase[];
  /** PostgreSQL, where admitted connections go. */
  upstream: { host: string; port: number };
  /** The console inside the VPC: its security groups. */
  console: { securityGroupIds: string[] };
  syncIntervalMs: number;
  log: (line: string) => void;
}

export interface DbNetwork {
  /** Where `sourceId` (an instance id, a tunnel or a console source) connects to reach its RDS endpoint. */
  route(sourceId: string): { host: string; port: number };
  /** The operator's tunnel to this RDS instance (through its first backend): the console config's `reachVia`. */
  tunnel(rdsInstanceId: string): { host: string; port: number };
  sources(): string[];
  /** Re-reads the security groups, ACLs and the instances' state now instead of at the next tick. */
  refresh(): Promise<void>;
  /** Resolves once a read that began after the call has succeeded and is being enforced. */
  synced(): Promise<void>;
  /** RDS physics holds an endpoint down while a reboot lasts (moto has no rebooting state). */
  setRebooting(rdsInstanceId: string, rebooting: boolean): Promise<void>;
  stop(): Promise<void>;
}

/** An address in the VPC with its security groups. */
interface Placed extends Source {
  subnetId: string | undefined;
}

interface DatabaseView {
  rdsStatus: string;
  dbPort: number;
  /** RDS's interface: the DB's groups (RDS's VpcSecurityGroups), address and subnet. */
  db: Placed;
  /** The ingress rules of the DB's groups. */
  ingress: IpPermission[];
}

interface View {
  /** By RDS instance id. */
  databases: Map<string, DatabaseView>;
  groups: Map<string, SecurityGroup>;
  acls: NetworkAcl[];
  /** Where each source sits: its own instance's (or, for a tunnel, its carrier's) place. */
  sources: Map<string, Placed>;
}

/** Linux's default net.ipv4.ip_local_port_range. */
const EPHEMERAL_FIRST = 32768;
const EPHEMERAL_LAST = 60999;

/** The client port of a simulated host's connection: the kernel's own choice, kept in Linux's range. */
export function ephemeralSourcePort(kernelPort: number | undefined): number {
  const port = kernelPort ?? 0;
  if (port >= EPHEMERAL_FIRST && port <= EPHEMERAL_LAST) return port;
  return EPHEMERAL_FIRST + (port % (EPHEMERAL_LAST - EPHEMERAL_FIRST + 1));
}

interface Flow {
  client: net.Socket;
  server: net.Socket;
  sourceId: string;
  sourcePort: number;
  stalled: boolean;
}

interface Listener {
  host: string;
  port: number;
  server: net.Server | undefined;
  /** The RDS instance its connections go to. */
  rdsInstanceId: string;
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
  const listeners = new Map<string, Listener>();
  for (const [i, database] of options.databases.entries()) {
    const rdsInstanceId = database.rdsInstanceId;
    for (const id of database.instanceIds) listeners.set(id, { host: '127.0.0.1', port: 0, server: undefined, rdsInstanceId });
    listeners.set(tunnelSource(i, rdsInstanceId), { host: '127.0.0.1', port: 0, server: undefined, rdsInstanceId });
    listeners.set(consoleSource(i, rdsInstanceId), { ...database.endpoint, server: undefined, rdsInstanceId });
  }
  const sourceIds = [...listeners.keys()];
  const instanceIds = options.databases.flatMap((d) => d.instanceIds);
  const flows = new Set<Flow>();
  const held = new Map<net.Socket, string>();
  let view: View | undefined;
  const rebooting = new Set<string>();
  let stopped = false;
  let syncFailing = false;
  let syncing: Promise<void> | undefined;
  /** synced() callers waiting for a read that starts after they asked. */
  let awaitingSync: Array<() => void> = [];
  /** The last reason each source was dropped for, so the log says it once, not per connection. */
  const lastDropReason = new Map<string, string>();

  const read = async (): Promise<View> => {
    const [{ DBInstances }, { Reservations }] = await Promise.all([
      rds.send(new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-instance-id', Values: options.databases.map((d) => d.rdsInstanceId) }] })),
      ec2.send(new DescribeInstancesCommand({ InstanceIds: instanceIds })),
    ]);
    const instances = (Reservations ?? []).flatMap((r) => r.Instances ?? []);
    const vpcId = DBInstances?.find((db) => db.DBSubnetGroup?.VpcId)?.DBSubnetGroup?.VpcId ?? instances.find((i) => i.VpcId)?.VpcId;
    const vpcFilter = [{ Name: 'vpc-id', Values: [vpcId ?? 'none'] }];
    const [{ SecurityGroups }, { NetworkAcls }, { NetworkInterfaces }] = vpcId
      ? await Promise.all([
          ec2.send(new DescribeSecurityGroupsCommand({ Filters: vpcFilter })),
          ec2.send(new DescribeNetworkAclsCommand({ Filters: vpcFilter })),
          ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [...vpcFilter, { Name: 'description', Values: [RDS_INTERFACE_DESCRIPTION] }] })),
        ])
      : [{ SecurityGroups: [] }, { NetworkAcls: [] }, { NetworkInterfaces: [] }];

    const groups = new Map((SecurityGroups ?? []).filter((g) => g.GroupId).map((g) => [g.GroupId!, g]));
    const databases = new Map<string, DatabaseView>();
    for (const database of options.databases) {
      const db = DBInstances?.find((d) => d.DBInstanceIdentifier === database.rdsInstanceId);
      const dbGroupIds = (db?.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId).filter((id): id is string => !!id);
      // Its own interface, as long as it is in one of its subnet group's subnets.
      const dbSubnetIds = new Set((db?.DBSubnetGroup?.Subnets ?? []).map((s) => s.SubnetIdentifier));
      const eni = (NetworkInterfaces ?? []).find((n) => n.NetworkInterfaceId === database.networkInterfaceId && n.SubnetId && dbSubnetIds.has(n.SubnetId));
      databases.set(database.rdsInstanceId, {
        rdsStatus: db?.DBInstanceStatus ?? 'deleted',
        dbPort: db?.Endpoint?.Port ?? 5432,
        db: { securityGroupIds: dbGroupIds, privateIp: eni?.PrivateIpAddress, subnetId: eni?.SubnetId },
        ingress: dbGroupIds.flatMap((id) => groups.get(id)?.IpPermissions ?? []),
      });
    }

    const sources = new Map<string, Placed>();
    for (const instance of instances) {
      sources.set(instance.InstanceId!, {
        // The instance's groups are its primary interface's; modify-instance-attribute --groups replaces them.
        securityGroupIds: (instance.SecurityGroups ?? []).map((g) => g.GroupId!).filter(Boolean),
        privateIp: instance.PrivateIpAddress,
        subnetId: instance.SubnetId,
      });
    }
    for (const [i, database] of options.databases.entries()) {
      const carrier = database.instanceIds[0];
      if (carrier && sources.has(carrier)) sources.set(tunnelSource(i, database.rdsInstanceId), sources.get(carrier)!);
      // No CIDR rule or network ACL applies to the console: it has no instance, so no address or subnet in the lab.
      sources.set(consoleSource(i, database.rdsInstanceId), { securityGroupIds: options.console.securityGroupIds, privateIp: undefined, subnetId: undefined });
    }
    return { databases, groups, acls: NetworkAcls ?? [], sources };
  };

  const describeDrop = (drop: AclDrop) =>
    `network ACL ${drop.networkAclId} of ${drop.subnetId} drops the ${drop.leg} (${drop.direction} rule ${drop.rule})`;

  /** The RDS instance a source's connections go to, as last read. */
  const databaseOf = (current: View, sourceId: string) => current.databases.get(listeners.get(sourceId)!.rdsInstanceId)!;

  const aclDrop = (current: View, source: Placed, database: DatabaseView, sourcePort: number): AclDrop | undefined => {
    if (!source.privateIp || !source.subnetId || !database.db.privateIp || !database.db.subnetId) return undefined;
    return aclDropsFlow(current.acls, {
      client: { ip: source.privateIp, subnetId: source.subnetId, port: sourcePort },
      server: { ip: database.db.privateIp, subnetId: database.db.subnetId, port: database.dbPort },
    });
  };

  /** Why a new connection from `sourceId` is dropped, or undefined when it gets through. */
  const dropReason = (sourceId: string, sourcePort: number): string | undefined => {
    if (!view) return 'the network has not read EC2 yet';
    const source = view.sources.get(sourceId);
    if (!source) return `${sourceId} is not an instance EC2 knows`;
    const database = databaseOf(view, sourceId);
    if (!database.db.privateIp) return 'RDS has no network interface in its DB subnets';
    const egress = source.securityGroupIds.flatMap((id) => view!.groups.get(id)?.IpPermissionsEgress ?? []);
    if (!egressAdmits(egress, database.dbPort, database.db)) return `the egress rules of ${source.securityGroupIds.join(', ') || 'no group'} do not let it out to the DB`;
    if (!ingressAdmits(database.ingress, database.dbPort, source)) {
      return `the DB's security groups do not admit its groups (${source.securityGroupIds.join(', ') || 'none'}) or address ${source.privateIp ?? '(none)'}`;
    }
    const drop = aclDrop(view, source, database, sourcePort);
    return drop ? describeDrop(drop) : undefined;
  };

  const hold = (sourceId: string, client: net.Socket, reason: string) => {
    if (lastDropReason.get(sourceId) !== reason) options.log(`DB network: dropping connections from ${sourceId}: ${reason}`);
    lastDropReason.set(sourceId, reason);
    // A dropped packet: no answer, no reset, until the client gives up.
    client.pause();
    held.set(client, sourceId);
    client.on('close', () => held.delete(client));
  };

  const onConnection = (sourceId: string) => (client: net.Socket) => {
    client.on('error', () => undefined);
    const sourcePort = ephemeralSourcePort(client.remotePort);
    const reason = dropReason(sourceId, sourcePort);
    if (reason) return hold(sourceId, client, reason);
    if (lastDropReason.delete(sourceId)) options.log(`DB network: ${sourceId} gets through again`);
    const server = net.connect(options.upstream.port, options.upstream.host);
    const flow: Flow = { client, server, sourceId, sourcePort, stalled: false };
    flows.add(flow);
    server.on('error', () => client.destroy());
    client.on('close', () => {
      server.destroy();
      flows.delete(flow);
    });
    server.on('close', () => client.destroy());
    client.pipe(server);
    server.pipe(client);
  };

  /** Network ACLs are stateless: each packet of an open session meets the ACLs as they are now. */
  const restall = () => {
    if (!view) return;
    for (const flow of flows) {
      const source = view.sources.get(flow.sourceId);
      const database = databaseOf(view, flow.sourceId);
      const stall = !!source && !!aclDrop(view, source, database, flow.sourcePort);
      if (stall === flow.stalled) continue;
      flow.stalled = stall;
      if (stall) {
        flow.client.unpipe(flow.server);
        flow.server.unpipe(flow.client);
        flow.client.pause();
        flow.server.pause();
      } else {
        flow.client.pipe(flow.server);
        flow.server.pipe(flow.client);
      }
    }
  };

  const listening = (rdsInstanceId: string) => {
    const status = view?.databases.get(rdsInstanceId)?.rdsStatus;
    return !stopped && !rebooting.has(rdsInstanceId) && status !== undefined && !NOT_LISTENING.has(status);
  };

  /** Binds the listeners of the databases `which` accepts that are not listening yet. */
  const open = async (which: (rdsInstanceId: string) => boolean) => {
    for (const [sourceId, listener] of listeners) {
      if (listener.server || !which(listener.rdsInstanceId)) continue;
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

  /** Takes the listeners of the databases `which` accepts down, with their sessions. */
  const close = async (which: (rdsInstanceId: string) => boolean) => {
    const closing: Array<Promise<void>> = [];
    for (const listener of listeners.values()) {
      const server = listener.server;
      if (!server || !which(listener.rdsInstanceId)) continue;
      listener.server = undefined;
      closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    const goingDown = (sourceId: string) => which(listeners.get(sourceId)!.rdsInstanceId);
    // The server went away under its sessions: they end abruptly, as when RDS stops or reboots.
    for (const flow of flows) {
      if (!goingDown(flow.sourceId)) continue;
      flow.client.resetAndDestroy();
      flow.server.destroy();
      flows.delete(flow);
    }
    for (const [socket, sourceId] of held) {
      if (!goingDown(sourceId)) continue;
      socket.resetAndDestroy();
      held.delete(socket);
    }
    await Promise.all(closing);
  };

  const apply = async () => {
    await open(listening);
    await close((id) => !listening(id));
  };

  const sync = () => {
    syncing ??= (async () => {
      const waiters = awaitingSync;
      awaitingSync = [];
      try {
        view = await read();
        if (syncFailing) options.log('DB network: reading EC2 and RDS works again');
        syncFailing = false;
        restall();
        await apply();
        for (const resolve of waiters) resolve();
      } catch (err) {
        if (!syncFailing) options.log(`DB network: cannot read EC2 and RDS, keeping the last rules (${(err as Error).message})`);
        syncFailing = true;
        awaitingSync.push(...waiters);
        await apply();
      }
    })().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  await sync();
  if (!view) throw new Error('the DB network could not read the security groups and network ACLs from moto');
  await open(() => true); // every source gets its port now, so routes are known even if RDS starts stopped
  const unbound = options.databases.find((d, i) => !listeners.get(consoleSource(i, d.rdsInstanceId))!.server);
  if (unbound) {
    await close(() => true);
    throw new Error(`the DB network cannot listen on the RDS endpoint ${unbound.endpoint.host}:${unbound.endpoint.port} of ${unbound.rdsInstanceId}`);
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

  const route = (sourceId: string) => {
    const listener = listeners.get(sourceId);
    if (!listener) throw new Error(`no DB network route for "${sourceId}" (sources: ${sourceIds.join(', ')})`);
    return { host: listener.host, port: listener.port };
  };

  return {
    route,
    tunnel(rdsInstanceId) {
      const i = options.databases.findIndex((d) => d.rdsInstanceId === rdsInstanceId);
      if (i < 0) throw new Error(`no RDS instance "${rdsInstanceId}" on the DB network`);
      return route(tunnelSource(i, rdsInstanceId));
    },
    sources: () => [...sourceIds],
    refresh: async () => {
      if (syncing) await syncing; // a read already under way may predate the change just made
      await sync();
    },
    synced: () => new Promise<void>((resolve) => awaitingSync.push(resolve)),
    setRebooting: async (rdsInstanceId, value) => {
      if (value) rebooting.add(rdsInstanceId);
      else rebooting.delete(rdsInstanceId);
      await apply();
    },
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      if (syncing) await syncing.catch(() => undefined);
      await close(() => true);
      ec2.destroy();
      rds.destroy();
    },
  };
}
