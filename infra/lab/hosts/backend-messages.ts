// The IPC messages between the fleet (container.ts) and a backend process (backend-process.ts).

export interface BackendStart {
  type: 'start';
  instanceId: string;
  port: number;
  unhealthy: boolean;
  /** Set for a restart of the same container (docker keeps its environment) and for the local backend. */
  databaseUrl?: string;
  awsEndpoint: string;
  region: string;
  parameterPrefix: string;
  rdsEndpointAddress: string;
  /** Where this host's connections to the RDS endpoint go; absent for the local backend. */
  dbRoute?: { host: string; port: number };
}

export type ToBackend = BackendStart | { type: 'fault'; unhealthy: boolean };

export type FromBackend =
  | { type: 'resolved'; databaseUrl: string }
  | { type: 'listening'; port: number }
  | { type: 'failed'; error: string };
