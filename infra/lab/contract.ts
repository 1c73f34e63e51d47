// The seams inside the lab: what the core (moto, gateway, PostgreSQL, seed, network, RDS physics)
// and the hosts (backend processes, Run Command, agents, IAM simulation) promise each other,
// and what tests and scripts get back from startLab().

import type { ConsoleConfig } from '../../lib/config/schema';

export interface LabOptions {
  /** The lab gateway, the one AWS endpoint. 4566 by default; 0 picks a free port (tests). */
  gatewayPort: number;
  /** The local environment's backend (the seed's `uvicorn` on :8000). 0 picks a free port. */
  localBackendPort: number;
  /** Where PostgreSQL data, the written console config and logs live; wiped on start. */
  dataDir: string;
  region: string;
  /** How long RDS shows `resetting-master-credentials` before the password really changes. */
  resetSeconds: number;
  /**
   * How many LinkBox environments to seed in the one account and region (LAB_ENVIRONMENTS; 1 to 25):
   * `production` as always, then `production-2`, ... sharing its VPC and its PostgreSQL server.
   */
  environments: number;
  /** How often the DB network re-reads security groups, network ACLs and instance state from the EC2 API. */
  syncIntervalMs: number;
  log: (line: string) => void;
  /**
   * Enforce IAM policies on every call through the gateway, as AWS does (default true). Keys moto
   * did not issue (the seed's, LABCONSOLE, the CLI's "testing") are the lab's admin and unrestricted.
   */
  enforceIam: boolean;
  /** Run the console as an IAM role: the lab creates the role, and LABCONSOLE may then only assume it. */
  consoleRole?: ConsoleRoleOptions;
  /** The lab's OpenID Connect provider (infra/lab/oidc). */
  oidc?: LabOidcOptions;
}

export interface ConsoleRoleOptions {
  name: string;
  /**
   * The role's permissions: one inline policy, as JSON text or an object, or made from the console
   * config the lab writes (the catalogue's generated policy: lib/aws/catalogue.ts).
   */
  policyDocument: string | object | ((config: ConsoleConfig, account: { accountId: string }) => string | object);
  /** Who may assume it; by default the lab's account, with sts:ExternalId required when externalId is set. */
  trustPolicy?: string | object;
  externalId?: string;
  /** The session name the console assumes it with (the config schema's default when absent). */
  sessionName?: string;
}

export interface LabOidcOptions {
  /**
   * Its port (LAB_OIDC_PORT). Default: 4567 beside the default gateway port 4566, and a free port
   * the kernel picks (0) whenever the gateway is elsewhere (tests, e2e, a second lab).
   */
  port?: number;
  /** The console's callbacks, `<NEXTAUTH_URL>/api/auth/callback/oidc`; default http://127.0.0.1:3000's. */
  redirectUris?: string[];
  /** The name of the claim that carries the groups (released by the scope `groups`); default `groups`. */
  groupsClaim?: string;
  /** Passwords by variable (LAB_VIEWER_PASSWORD, ...); any not given is generated for this start. */
  passwords?: Partial<Record<string, string>>;
}

/** What GET /_lab/state returns and startLab() resolves to (plus stop()). */
export interface LabState {
  awsEndpoint: string;
  region: string;
  /** The RDS endpoint as an operator's SSM tunnel reaches it; the console config's `reachVia`. */
  db: { host: string; port: number };
  rds: LabRdsState;
  /** Ids of the seeded network; its rules and associations change live: read those from EC2. */
  vpc: LabVpcState;
  /**
   * Where DescribeDBInstances says the database is, and where the DB network really listens for a
   * console inside the VPC (security group linkbox-ops-console-sg): connect here without reachVia.
   * Its port is 5432 unless no loopback address could have it (then DescribeDBInstances reports this one).
   */
  rdsEndpoint: { host: string; port: number };
  /** The lab CA's certificate (PEM), generated at start: PostgreSQL's certificate chains to it. */
  tlsCaPath: string;
  /** The lab CA's private key, for tests that need another certificate from the same CA (see network/rogue-postgres.ts). */
  tlsCaKeyPath: string;
  parameterPrefix: string;
  instances: LabInstanceState[];
  /**
   * Every AWS environment the lab seeded (`environments`), in the console config's order: the first
   * is `production`, whose parameterPrefix, rds, rdsEndpoint, db and instances are also the fields above.
   */
  environments: LabEnvironmentState[];
  local: { databaseUrl: string; backendUrl: string; envFile: string };
  /** The console config (environments `production`, `production-2`, ... and `local`) the lab wrote for this run. */
  configPath: string;
  oidc: LabOidcState;
  iam: LabIamState;
}

/**
 * One LinkBox environment of the lab: its own parameters, RDS instance (master user, database,
 * endpoint address) and backends; the VPC, its security groups and the PostgreSQL server are shared.
 */
export interface LabEnvironmentState {
  /** Its name in the console config: `production`, `production-2`, ... */
  name: string;
  parameterPrefix: string;
  rds: LabRdsState;
  /** Where its DescribeDBInstances endpoint really listens (the console source's listener). */
  rdsEndpoint: { host: string; port: number };
  /** Its operator tunnel, through its first backend: the console config's `reachVia`. */
  db: { host: string; port: number };
  /** The Name tag of its backend instances, which its console config selects them by. */
  backendName: string;
  instances: LabInstanceState[];
}

/** The lab's identity provider as a relying party (the console, a test) needs to know it. */
export interface LabOidcState {
  /** `http://127.0.0.1:<port>`; discovery at `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  discoveryUrl: string;
  clientId: string;
  /** Made for this start and lab-only; never written to a log. */
  clientSecret: string;
  redirectUris: string[];
  /** What the provider releases: `openid`, `email` (email, email_verified), `profile` (name), `groups`. */
  scopes: string[];
  /** The scope that releases the groups claim. */
  groupsScope: string;
  /** The claim that carries the groups, in the ID token and userinfo. */
  groupsClaim: string;
  accounts: LabOidcAccount[];
  /**
   * Lab-only clock control: POST `{"authTimeAgeSeconds": n}` and the next sign-in on the login form
   * is recorded n seconds in the past (its `auth_time`, and the IdP session's age for `max_age`).
   * One use; GET shows what is pending, DELETE clears it.
   */
  nextLoginUrl: string;
}

export interface LabOidcAccount {
  email: string;
  name: string;
  sub: string;
  /** The role the lab's console config lists for this email (the unverified account's too). */
  role: 'viewer' | 'operator' | 'admin';
  groups: string[];
  emailVerified: boolean;
  /** Where its password comes from; the password itself is never part of the state. */
  passwordVariable: string;
}

/**
 * `endpointAddress` is what DescribeDBInstances reports and SSM `db-endpoint` holds (a loopback
 * address of this lab's own); `port` is the instance's port as the security groups see it (5432);
 * `dnsName` is moto's RDS-style name for the instance, which resolves nowhere but which the TLS
 * certificate also covers (use it as the TLS server name through the tunnel).
 */
export interface LabRdsState {
  instanceId: string;
  endpointAddress: string;
  port: number;
  dnsName: string;
  masterUsername: string;
  dbName: string;
  subnetGroupName: string;
  /** DescribeDBInstances → DBSubnetGroup.Subnets. */
  subnetIds: string[];
  /** The subnet of RDS's network interface (the instance's availability zone) and its address there. */
  subnetId: string;
  privateIp: string;
}

export interface LabSubnetState {
  id: string;
  name: string;
  cidr: string;
  availabilityZone: string;
}

export interface LabVpcState {
  id: string;
  cidr: string;
  /** Where the backends run; instance i is in appSubnets[i]. */
  appSubnets: LabSubnetState[];
  /** The DB subnet group's subnets. */
  dbSubnets: LabSubnetState[];
  defaultNetworkAclId: string;
  appNetworkAclId: string;
  dbNetworkAclId: string;
  backendSecurityGroupId: string;
  dbSecurityGroupId: string;
}

/** A backend instance as the lab reports it: the host's state plus where it sits in the network. */
export interface LabInstanceState extends LabHostState {
  subnetId: string;
  /** Where this instance's connections to the RDS endpoint go: a test connecting here connects as the instance. */
  dbRoute: { host: string; port: number };
}

export interface LabIamState {
  enforced: boolean;
  /** Fixed lab keys that act as a principal instead of the lab's admin (LABCONSOLE once a console role is set). */
  boundAccessKeys: Record<string, string>;
  consoleRole: ConsoleRoleState | null;
}

export interface ConsoleRoleState {
  roleName: string;
  roleArn: string;
  externalId: string | null;
  sessionName: string;
  /** The key the console signs sts:AssumeRole with (the lab's stand-in for its task role); moto ignores the secret. */
  sourceAccessKeyId: string;
  /** The IAM user that key is, whose only permission is assuming the console role. */
  sourcePrincipalArn: string;
}

export interface LabHostState {
  id: string;
  name: string;
  privateIp: string;
  healthUrl: string;
  /** EC2 instance state as moto reports it. */
  state: string;
  container: ContainerState;
}

/** What `docker inspect linkbox-backend` reports, from the real process behind it. */
export interface ContainerState {
  name: 'linkbox-backend';
  status: 'running' | 'exited' | 'created';
  startedAt: string | null;
  finishedAt: string | null;
  restartCount: number;
  image: string;
  exitCode: number | null;
  /** Why the last start failed (e.g. SSM read denied), never a secret. */
  error: string | null;
}

export interface Lab extends LabState {
  /**
   * Resolves once the DB network has finished a read of EC2 and RDS that began after the call: from
   * then on it enforces what those APIs said (security groups, network ACLs, instance groups).
   */
  networkSynced(): Promise<void>;
  stop(): Promise<void>;
}

// ---- the gateway's interception seam ----

/** One AWS API call as the gateway parsed it, before it goes to moto. */
export interface AwsCall {
  service: string; // 'ssm', 'rds', 'ec2', 'iam', 'sts', 'kms'
  action: string; // 'GetParameters', 'ModifyDBInstance', ...
  region: string;
  protocol: 'json' | 'query';
  /** JSON body (json protocol) or decoded form parameters (query protocol: 'Filter.1.Name' keys). */
  input: Record<string, unknown>;
  accessKeyId: string | null;
}

export interface AwsReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Answers a call itself, or returns undefined to let it go to moto. */
export type Interceptor = (call: AwsCall) => Promise<AwsReply | undefined>;

// ---- faults ----

export type LabErrorCode = 'ThrottlingException' | 'RequestLimitExceeded' | 'AccessDeniedException' | 'InternalError';

export type FaultRule =
  | { id: string; kind: 'latency'; service?: string; action?: string; ms: number }
  | { id: string; kind: 'error'; service: string; action?: string; error: LabErrorCode; probability: number }
  /** SecureString reads with decryption (and SecureString writes) fail as KMS would deny them. */
  | { id: string; kind: 'kms-denied' }
  /** A backend's container crashed (process gone, exited 137) or answers /health with 503. */
  | { id: string; kind: 'container'; instanceId: string; mode: 'crashed' | 'unhealthy' }
  /**
   * The call lands (moto and the lab's physics act on it) but its answer never reaches the caller:
   * `drop` closes the connection without a response, `delay` holds the answer `ms` (past the
   * caller's timeout). `count` is how many more calls it applies to; without it, until removed.
   */
  | { id: string; kind: 'lost-answer'; service: string; action?: string; mode: 'drop' | 'delay'; ms?: number; count?: number };

export interface FaultStore {
  list(): FaultRule[];
  containerFault(instanceId: string): 'crashed' | 'unhealthy' | undefined;
  /** Called after any add, remove or reset, so hosts can crash or recover containers. */
  onChange(listener: () => void): void;
}

// ---- hosts (backend instances), built by infra/lab/hosts and wired by the core ----

export interface FleetOptions {
  awsEndpoint: string;
  region: string;
  /**
   * Every environment's backends. `parameterPrefix` is what its start_application.sh reads;
   * `rdsEndpointAddress` its RDS endpoint as SSM holds it: a host resolving it gets dbRoute(itself).
   */
  instances: Array<{ id: string; name: string; privateIp: string; parameterPrefix: string; rdsEndpointAddress: string }>;
  /** Where a simulated host's connection to its RDS endpoint goes (the DB network's port for that source). */
  dbRoute: (sourceId: string) => { host: string; port: number };
  faults: FaultStore;
  /** The seed's local world: DATABASE_URL from envFile, else the default; backend on this port. */
  local: { port: number; envFile: string; defaultDatabaseUrl: string };
  dataDir: string;
  log: (line: string) => void;
  /**
   * moto's own address (not the gateway's). When set, the hosts follow their EC2 instances' state
   * (stop-instances takes a container and its agent down) without adding to the request counters.
   */
  motoEndpoint?: string;
}

export interface Fleet {
  start(): Promise<void>;
  stop(): Promise<void>;
  hosts(): LabHostState[];
  localBackendUrl(): string;
  /** SendCommand, GetCommandInvocation, ListCommandInvocations, ListCommands, DescribeInstanceInformation. */
  interceptor: Interceptor;
  /** What Run Command has kept (GET /_lab/run-command/history). */
  runCommandHistory(): RunCommandRecord[];
}

/**
 * One Run Command as SSM keeps it: the parameters exactly as sent (ListCommands returns them) and
 * each instance's whole output (GetCommandInvocation shows the first 24,000/8,000 characters,
 * ListCommandInvocations --details 2,500; an S3 output bucket would hold all of it).
 */
export interface RunCommandRecord {
  commandId: string;
  /** ISO time. */
  requestedAt: string;
  documentName: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: Array<{ Key: string; Values: string[] }>;
  invocations: Array<{ instanceId: string; status: string; responseCode: number; stdout: string; stderr: string }>;
}
