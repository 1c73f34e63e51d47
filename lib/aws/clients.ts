import 'server-only';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { MiddlewareStack } from '@smithy/types';
import { getConfig } from '@/lib/config/load';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import { describeAwsError, type AwsErrorKind } from './errors';
import { awsScope } from './scope';

// The one AWS client factory: one set of clients per scope (region, endpoint and credentials), each
// call time-boxed and retried the SDK's standard way. Nothing else in the console constructs an AWS
// client. Environments in one scope (lib/aws/scope.ts) share clients, and the readers' cache keys
// start with the scope, so such environments share what was read.

export interface AwsClients {
  ssm: SSMClient;
  rds: RDSClient;
  ec2: EC2Client;
  iam: IAMClient;
}

/** What every reader and writer in lib/aws takes: an abort signal that cancels the call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** The SDK's per-call options for `send`. */
export function sendOptions(opts: CallOptions): { abortSignal?: AbortSignal } | undefined {
  return opts.signal ? { abortSignal: opts.signal } : undefined;
}

/** A call that outlives these fails with a TimeoutError instead of hanging a panel. */
export const AWS_CONNECTION_TIMEOUT_MS = 2000;
export const AWS_REQUEST_TIMEOUT_MS = 4000;
export const AWS_MAX_ATTEMPTS = 3;

// Every client, the STS one behind assume-role included: a hung endpoint must not hang a panel or keep a lock renewed.
const TIME_BOXED = {
  maxAttempts: AWS_MAX_ATTEMPTS,
  retryMode: 'standard' as const,
  requestHandler: {
    connectionTimeout: AWS_CONNECTION_TIMEOUT_MS,
    requestTimeout: AWS_REQUEST_TIMEOUT_MS,
    throwOnRequestTimeout: true,
  },
};

const LAB_CREDENTIALS = { accessKeyId: 'LABCONSOLE', secretAccessKey: 'lab-not-a-secret' };

const byScope = processWide('aws.clients', () => new Map<string, AwsClients>());


export function awsClients(env: AwsEnvironmentConfig): AwsClients {
  const scope = awsScope(env);
  const existing = byScope.get(scope);
  if (existing) return existing;

  const common = { ...TIME_BOXED, region: env.region, endpoint: env.endpoint, credentials: credentialsFor(env) };
  const clients: AwsClients = {
    ssm: new SSMClient(common),
    rds: new RDSClient(common),
    ec2: new EC2Client(common),
    iam: new IAMClient(common),
  };
  for (const [service, client] of Object.entries(clients)) countCalls(client, service);
  byScope.set(scope, clients);
  return clients;
}

/** One AWS call attempt as it ended: what the console's metrics count (lib/metrics listens). */
export interface AwsCallOutcome {
  service: string;
  action: string;
  outcome: 'success' | AwsErrorKind;
}

const callListeners = processWide('aws.callListeners', () => new Set<(call: AwsCallOutcome) => void>());

/** Hears every AWS call attempt of the process (retries each count); returns the way to stop listening. */
export function onAwsCall(listener: (call: AwsCallOutcome) => void): () => void {
  callListeners.add(listener);
  return () => callListeners.delete(listener);
}

// In the deserialize step, below the SDK's retries (every attempt is heard, a throttled one too) and
// around the deserializer (a service's refusal arrives as its named error).
function countCalls(client: AwsClients[keyof AwsClients], service: string): void {
  const stack = client.middlewareStack as unknown as MiddlewareStack<object, object>;
  stack.add(
    (next, context) => async (args) => {
      const action = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
      try {
        const result = await next(args);
        tell({ service, action, outcome: 'success' });
        return result;
      } catch (err) {
        tell({ service, action, outcome: describeAwsError(err).kind });
        throw err;
      }
    },
    { step: 'deserialize', priority: 'high', name: 'linkboxCallCounter' },
  );
}

function tell(call: AwsCallOutcome): void {
  for (const listener of callListeners) {
    try {
      listener(call);
    } catch {
      // A listener's failure must never fail the call it heard.
    }
  }
}

function credentialsFor(env: AwsEnvironmentConfig): SSMClientConfig['credentials'] {
  const c = env.credentials;
  switch (c.source) {
    case 'default':
      return undefined; // the SDK's default provider chain
    case 'profile':
      return fromIni({ profile: c.profile });
    case 'assume-role':
      return oneSessionPerScope(fromTemporaryCredentials({
        params: { RoleArn: c.roleArn, RoleSessionName: c.sessionName, ExternalId: c.externalId },
        // Who assumes it: in AWS the SDK's default chain (the ECS task role); in the lab the console's
        // own lab key, which the lab binds to a user that may do nothing but assume the role.
        masterCredentials: getConfig().mode === 'lab' ? LAB_CREDENTIALS : undefined,
        // STS at the environment's endpoint too: the lab's gateway, or a VPC endpoint.
        clientConfig: { ...TIME_BOXED, region: env.region, endpoint: env.endpoint },
      }));
    case 'lab':
      return LAB_CREDENTIALS;
  }
}

type TemporaryCredentials = ReturnType<typeof fromTemporaryCredentials>;

/** Credentials this close to their expiry are renewed (the SDK's own margin). */
const RENEW_BEFORE_EXPIRY_MS = 5 * 60_000;

/**
 * One assumed-role session for all of a scope's clients: each client caches its credentials on its
 * own, so four clients would otherwise each call sts:AssumeRole. A failed AssumeRole is asked again.
 */
function oneSessionPerScope(provider: TemporaryCredentials): TemporaryCredentials {
  let current: ReturnType<TemporaryCredentials> | undefined;
  const renew = () => {
    const next = provider().catch((err: unknown) => {
      if (current === next) current = undefined;
      throw err;
    });
    current = next;
    return next;
  };
  return async () => {
    const pending = current ?? renew();
    const credentials = await pending;
    if (!credentials.expiration || credentials.expiration.getTime() - Date.now() > RENEW_BEFORE_EXPIRY_MS) return credentials;
    return current === pending || !current ? renew() : current;
  };
}
