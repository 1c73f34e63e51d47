// The seams inside the lab: what the core (moto, gateway, PostgreSQL, seed, network, RDS physics)
// and the hosts (backend processes, Run Command, agents, IAM simulation) promise each other,
// and what tests and scripts get back from startLab().

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
  /** How often the DB network re-reads security groups and instance state from the EC2 API. */
  syncIntervalMs: number;
  log: (line: string) => void;
  /**
   * Enforce IAM policies on every call through the gateway, as AWS does (default true). Keys moto
   * did not issue (the seed's, LABCONSOLE, the CLI's "testing") are the lab's admin and unrestricted.
   */
  enforceIam: boolean;
  /** Run the console as an IAM role: the lab creates the role, and LABCONSOLE may then only assume it. */
  consoleRole?: ConsoleRoleOptions;
}

export interface ConsoleRoleOptions {
  name: string;
  /** The role's permissions: one inline policy, as JSON text or an object. */
  policyDocument: string | object;
  /** Who may assume it; by default the lab's account, with sts:ExternalId required when externalId is set. */
  trustPolicy?: string | object;
  externalId?: string;
  /** The session name the console assumes it with (the config schema's default when absent). */
  sessionName?: string;
}

/** What GET /_lab/state returns and startLab() resolves to (plus stop()). */
export interface LabState {
  awsEndpoint: string;
  region: string;
  /** The RDS endpoint as an operator's SSM tunnel (and the console) reaches it. */
  db: { host: string; port: number };
  rds: { instanceId: string; endpointAddress: string; port: number; masterUsername: string; dbName: string };
  parameterPrefix: string;
  instances: LabHostState[];
  local: { databaseUrl: string; backendUrl: string; envFile: string };
  /** The console config (environments `production` and `local`) the lab wrote for this run. */
  configPath: string;
  iam: LabIamState;
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
  | { id: string; kind: 'container'; instanceId: string; mode: 'crashed' | 'unhealthy' };

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
  parameterPrefix: string;
  instances: Array<{ id: string; name: string; privateIp: string }>;
  /** Where a simulated host's connection to the RDS endpoint goes (the DB network's port for that source). */
  dbRoute: (sourceId: string) => { host: string; port: number };
  /** The RDS endpoint address as SSM holds it; a host resolving it gets dbRoute(itself). */
  rdsEndpointAddress: string;
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
}
