import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket } from 'node:tls';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeInstancesCommand, DescribeNetworkAclsCommand, DescribeNetworkInterfacesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client, type NetworkAcl } from '@aws-sdk/client-ec2';
import { DescribeParametersCommand, GetParametersCommand, SSMClient, type Parameter } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { invalidateCache } from '@/lib/aws/cache';
import type { Caller } from '@/lib/roles';
import { setConfigForTests } from '@/lib/config/load';
import { createCertificateAuthority, issueServerCertificate } from '@/infra/lab/tls';
import { fakeRunCommand, type InvocationAnswer } from '../support/run-command';

// A healthy LinkBox as AWS would describe it, answered by aws-sdk-client-mock, plus small real
// servers on 127.0.0.1 (a PostgreSQL that speaks just enough protocol, backends' /health) so the
// checks run end to end. Each test then breaks the one answer the lab cannot produce on demand.

export const PASSWORD = 'Unit-Only-Password-7f3a9c';
export const VIEWER: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
export const DB_ENDPOINT = 'linkbox-db.abc123.us-east-1.rds.amazonaws.com';

export const ssm = mockClient(SSMClient);
export const rds = mockClient(RDSClient);
export const ec2 = mockClient(EC2Client);

/** The CA the fake PostgreSQL's certificate (for DB_ENDPOINT) chains to; setTestConfig names it as dbCaBundle. */
const TLS_DIR = mkdtempSync(join(tmpdir(), 'linkbox-unit-tls-'));
export const UNIT_CA_PATH = join(TLS_DIR, 'unit-ca.pem');
process.once('exit', () => rmSync(TLS_DIR, { recursive: true, force: true }));
let serverTls: Promise<{ key: string; cert: string }> | undefined;

/** Made once per test file, with the lab's own certificate code (the openssl command line). */
function fakeServerTls(): Promise<{ key: string; cert: string }> {
  serverTls ??= (async () => {
    const ca = await createCertificateAuthority(TLS_DIR, 'unit-ca', 'LinkBox unit test CA');
    const files = await issueServerCertificate(ca, TLS_DIR, 'fake-rds', [DB_ENDPOINT]);
    return { key: readFileSync(files.keyPath, 'utf8'), cert: readFileSync(files.certPath, 'utf8') };
  })();
  return serverTls;
}

export const PASSWORD_CHANGED = new Date(Date.now() - 10 * 86_400_000);
export const CONTAINER_STARTED = new Date(Date.now() - 5 * 86_400_000);

const ALL_OUT = { IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] };

export const SUBNETS = [
  { id: 'subnet-app-a', name: 'linkbox-app-a', cidr: '10.0.1.0/24', zone: 'us-east-1a' },
  { id: 'subnet-app-b', name: 'linkbox-app-b', cidr: '10.0.2.0/24', zone: 'us-east-1b' },
  { id: 'subnet-db-a', name: 'linkbox-db-a', cidr: '10.0.11.0/24', zone: 'us-east-1a' },
  { id: 'subnet-db-b', name: 'linkbox-db-b', cidr: '10.0.12.0/24', zone: 'us-east-1b' },
];

/** The lab's custom ACLs, as EC2 lists them: request and reply rules for each app/DB subnet pair. */
export function healthyNetworkAcls(): Array<NetworkAcl & { Entries: NonNullable<NetworkAcl['Entries']> }> {
  const entry = (RuleNumber: number, Egress: boolean, CidrBlock: string, From: number, To: number) => ({ RuleNumber, Egress, Protocol: '6', RuleAction: 'allow' as const, CidrBlock, PortRange: { From, To } });
  return [
    {
      NetworkAclId: 'acl-app',
      VpcId: 'vpc-1',
      IsDefault: false,
      Associations: [
        { NetworkAclAssociationId: 'aclassoc-app-a', SubnetId: 'subnet-app-a' },
        { NetworkAclAssociationId: 'aclassoc-app-b', SubnetId: 'subnet-app-b' },
      ],
      Entries: [entry(100, true, '10.0.11.0/24', 5432, 5432), entry(101, true, '10.0.12.0/24', 5432, 5432), entry(100, false, '10.0.11.0/24', 1024, 65535), entry(101, false, '10.0.12.0/24', 1024, 65535)],
    },
    {
      NetworkAclId: 'acl-db',
      VpcId: 'vpc-1',
      IsDefault: false,
      Associations: [
        { NetworkAclAssociationId: 'aclassoc-db-a', SubnetId: 'subnet-db-a' },
        { NetworkAclAssociationId: 'aclassoc-db-b', SubnetId: 'subnet-db-b' },
      ],
      Entries: [entry(100, false, '10.0.1.0/24', 5432, 5432), entry(101, false, '10.0.2.0/24', 5432, 5432), entry(100, true, '10.0.1.0/24', 1024, 65535), entry(101, true, '10.0.2.0/24', 1024, 65535)],
    },
    {
      NetworkAclId: 'acl-default',
      VpcId: 'vpc-1',
      IsDefault: true,
      Associations: [],
      Entries: [
        { RuleNumber: 100, Egress: false, Protocol: '-1', RuleAction: 'allow', CidrBlock: '0.0.0.0/0' },
        { RuleNumber: 100, Egress: true, Protocol: '-1', RuleAction: 'allow', CidrBlock: '0.0.0.0/0' },
      ],
    },
  ];
}

export function healthyAws() {
  ssm.reset();
  rds.reset();
  ec2.reset();
  invalidateCache();
  const param = (key: string, type: 'String' | 'SecureString', value: string) => ({
    Name: `/linkbox/${key}`,
    Type: type,
    Value: value,
    Version: 3,
    LastModifiedDate: PASSWORD_CHANGED,
    DataType: 'text',
  });
  ssm.on(GetParametersCommand).resolves({
    Parameters: [
      param('db-endpoint', 'String', DB_ENDPOINT),
      param('db-username', 'String', 'linkbox'),
      param('db-password', 'SecureString', 'AQICAHciphertext=='),
      param('db-name', 'String', 'linkbox'),
    ],
    InvalidParameters: [],
  });
  ssm.on(DescribeParametersCommand).resolves({
    Parameters: ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((k) => ({
      Name: `/linkbox/${k}`,
      LastModifiedUser: 'arn:aws:iam::123456789012:user/ops',
    })),
  });
  decryptedPassword({ Name: '/linkbox/db-password', Type: 'SecureString', Value: PASSWORD, Version: 3 });
  rds.on(DescribeDBInstancesCommand).resolves({
    DBInstances: [
      {
        DBInstanceIdentifier: 'linkbox-db',
        DBInstanceStatus: 'available',
        Engine: 'postgres',
        EngineVersion: '15.4',
        Endpoint: { Address: DB_ENDPOINT, Port: 5432 },
        MasterUsername: 'linkbox',
        PubliclyAccessible: false,
        PendingModifiedValues: {},
        VpcSecurityGroups: [{ VpcSecurityGroupId: 'sg-db', Status: 'active' }],
        DBName: 'linkbox',
        AvailabilityZone: 'us-east-1a',
        DBSubnetGroup: {
          DBSubnetGroupName: 'linkbox-db-subnets',
          VpcId: 'vpc-1',
          Subnets: [{ SubnetIdentifier: 'subnet-db-a' }, { SubnetIdentifier: 'subnet-db-b' }],
        },
      },
    ],
  });
  ec2.on(DescribeSecurityGroupsCommand).resolves({
    SecurityGroups: [
      {
        GroupId: 'sg-db',
        GroupName: 'linkbox-db-sg',
        VpcId: 'vpc-1',
        Tags: [{ Key: 'Name', Value: 'linkbox-db-sg' }],
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: 'sg-backend' }] }],
        IpPermissionsEgress: [ALL_OUT],
      },
      {
        GroupId: 'sg-backend',
        GroupName: 'linkbox-backend-sg',
        VpcId: 'vpc-1',
        Tags: [{ Key: 'Name', Value: 'linkbox-backend-sg' }],
        IpPermissions: [],
        IpPermissionsEgress: [ALL_OUT],
      },
    ],
  });
  ec2.on(DescribeSubnetsCommand).resolves({ Subnets: SUBNETS.map((s) => ({ SubnetId: s.id, CidrBlock: s.cidr, VpcId: 'vpc-1', AvailabilityZone: s.zone, Tags: [{ Key: 'Name', Value: s.name }] })) });
  ec2.on(DescribeNetworkAclsCommand).resolves({ NetworkAcls: healthyNetworkAcls() });
  ec2.on(DescribeNetworkInterfacesCommand).resolves({
    NetworkInterfaces: [{ NetworkInterfaceId: 'eni-rds', SubnetId: 'subnet-db-a', PrivateIpAddress: '10.0.11.25', AvailabilityZone: 'us-east-1a', Groups: [{ GroupId: 'sg-db' }], Description: 'RDSNetworkInterface' }],
  });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: [
      {
        Instances: [
          { InstanceId: 'i-0001', State: { Name: 'running' }, PrivateIpAddress: '10.0.1.10', SubnetId: 'subnet-app-a', VpcId: 'vpc-1', SecurityGroups: [{ GroupId: 'sg-backend' }], Tags: [{ Key: 'Name', Value: 'linkbox-backend-1' }, { Key: 'Role', Value: 'linkbox-backend' }] },
          { InstanceId: 'i-0002', State: { Name: 'running' }, PrivateIpAddress: '10.0.2.11', SubnetId: 'subnet-app-b', VpcId: 'vpc-1', SecurityGroups: [{ GroupId: 'sg-backend' }], Tags: [{ Key: 'Name', Value: 'linkbox-backend-2' }, { Key: 'Role', Value: 'linkbox-backend' }] },
        ],
      },
    ],
  });
  runCommand = fakeRunCommand(ssm, { '*': { Status: 'Success', stdout: dockerInspect('running', CONTAINER_STARTED) } });
}

/** What the decrypted read of db-password (GetParameters, WithDecryption) answers. */
export function decryptedPassword(parameter: Parameter) {
  ssm.on(GetParametersCommand, { WithDecryption: true }).resolves({ Parameters: [parameter], InvalidParameters: [] });
}

let runCommand: ReturnType<typeof fakeRunCommand> | undefined;

/** From now on, `instanceId` ('*': every instance not named) answers Run Command with this (until healthyAws). */
export function answerRunCommand(instanceId: string, answer: InvocationAnswer) {
  runCommand!.answer(instanceId, answer);
}

/** What the console's container-state command prints: docker's output after its section marker (lib/aws/run-command.ts). */
export function inspectOutput(text: string, failed = false): string {
  return `@@linkbox-ops-console:inspect\n${text}\n${failed ? '@@linkbox-ops-console:failed\n' : ''}`;
}

/** The container state command's answer (CONTAINER_STATE_FORMAT in lib/aws/run-command.ts). */
export function dockerInspect(status: string, startedAt: Date | null, extra: { RestartCount?: number; ExitCode?: number; Error?: string } = {}): string {
  return inspectOutput(
    JSON.stringify({
      status,
      restarts: extra.RestartCount ?? 0,
      startedAt: startedAt ? startedAt.toISOString() : '0001-01-01T00:00:00Z',
      finishedAt: '0001-01-01T00:00:00Z',
      exitCode: extra.ExitCode ?? 0,
      image: 'linkbox-backend:latest',
      error: extra.Error ?? '',
    }),
  );
}

export function awsError(name: string, message = name) {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

/**
 * A PostgreSQL that offers TLS with a certificate for DB_ENDPOINT from the unit CA (as RDS does),
 * asks for a cleartext password and answers `SELECT version()`.
 */
export async function startFakePostgres(password: string): Promise<{ port: number; close: () => Promise<void>; passwordsSeen: string[] }> {
  const passwordsSeen: string[] = [];
  const tls = await fakeServerTls();
  const server = createServer((socket) => servePostgres(socket, password, passwordsSeen, tls));
  const port = await listen(server);
  return { port, passwordsSeen, close: () => closeServer(server) };
}

/** Accepts connections and never says a word, as the lab's DB network does for a blocked source. */
export async function startSilentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  const port = await listen(server);
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}

/** Answers the TCP probe's SSLRequest ("S": TLS offered), then never says another word: an overloaded server. */
export async function startStallingPostgres(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.once('data', (chunk: Buffer) => {
      if (chunk.length >= 8 && chunk.readInt32BE(4) === 80877103) s.write('S');
    });
  });
  const port = await listen(server);
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return closeServer(server);
    },
  };
}

export async function startHealthServer(status: number): Promise<{ url: string; close: () => Promise<void> }> {
  const server: HttpServer = createHttpServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status === 200 ? { status: 'ok' } : { status: 'error', detail: 'could not open postgresql://linkbox:leaked-password@db:5432/linkbox' }));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/health`, close: () => closeServer(server) };
}

/** A closed port: bound then released, so connecting is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await closeServer(server);
  return port;
}

/** dbPort null: no reachVia, so the TCP probe and login go to the RDS endpoint. */
export function setTestConfig(opts: {
  dbPort: number | null;
  healthUrls: Record<string, string>;
  checkTimeoutMs?: number;
  cacheTtlSeconds?: number;
  /** None by default: these tests read afresh right after breaking an answer. */
  freshReads?: { minAgeSeconds: number; diagnosisEverySeconds: number };
  local?: { envFile?: string; defaultDatabaseUrl?: string; backendUrl?: string };
}) {
  return setConfigForTests({
    mode: 'lab',
    cacheTtlSeconds: opts.cacheTtlSeconds ?? 15,
    freshReads: opts.freshReads ?? { minAgeSeconds: 0, diagnosisEverySeconds: 0 },
    checkTimeoutMs: opts.checkTimeoutMs ?? 1500,
    environments: [
      {
        name: 'production',
        kind: 'aws',
        region: 'us-east-1',
        credentials: { source: 'lab' },
        endpoint: 'http://127.0.0.1:1',
        parameterPrefix: '/linkbox',
        rdsInstanceId: 'linkbox-db',
        dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
        backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
        backendInstances: { tags: { Role: 'linkbox-backend' } },
        dbPort: 5432,
        health: { port: 80, path: '/health', urls: opts.healthUrls },
        ...(opts.dbPort === null ? {} : { reachVia: { host: '127.0.0.1', port: opts.dbPort } }),
        dbCaBundle: UNIT_CA_PATH,
      },
      { name: 'local', kind: 'local', ...(opts.local ?? {}) },
    ],
  });
}

function listen(server: Server | HttpServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function servePostgres(socket: Socket, password: string, seen: string[], tls?: { key: string; cert: string }) {
  let buf = Buffer.alloc(0);
  let stage: 'startup' | 'password' | 'ready' = 'startup';
  socket.on('error', () => {});
  const send = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    socket.write(Buffer.concat([head, body]));
  };
  const int32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  };
  const int16 = (n: number) => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  };
  const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');
  const fatal = (code: string, message: string) => {
    send('E', Buffer.concat([cstr('SFATAL'), cstr('VFATAL'), cstr(`C${code}`), cstr(`M${message}`), Buffer.from([0])]));
    socket.end();
  };
  socket.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (stage === 'startup') {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code === 80877103) {
          if (!tls) {
            socket.write('N');
            continue;
          }
          socket.removeAllListeners('data');
          socket.write('S');
          const secure = new TLSSocket(socket, { isServer: true, ...tls });
          servePostgres(secure, password, seen);
          return;
        }
        stage = 'password';
        send('R', int32(3));
        continue;
      }
      if (buf.length < 5) return;
      const type = String.fromCharCode(buf[0]!);
      const len = buf.readInt32BE(1);
      if (buf.length < len + 1) return;
      const body = buf.subarray(5, len + 1);
      buf = buf.subarray(len + 1);
      if (stage === 'password' && type === 'p') {
        const given = body.toString('utf8').replace(/\0$/, '');
        seen.push(given);
        if (given !== password) return fatal('28P01', 'password authentication failed for user "linkbox"');
        stage = 'ready';
        send('R', int32(0));
        send('Z', Buffer.from('I'));
      } else if (stage === 'ready' && type === 'Q') {
        send('T', Buffer.concat([int16(1), cstr('version'), int32(0), int16(0), int32(25), int16(-1), int32(-1), int16(0)]));
        const v = Buffer.from('PostgreSQL 15.4 (fake) on x86_64', 'utf8');
        send('D', Buffer.concat([int16(1), int32(v.length), v]));
        send('C', cstr('SELECT 1'));
        send('Z', Buffer.from('I'));
      } else if (type === 'X') {
        socket.end();
        return;
      }
    }
  });
}
