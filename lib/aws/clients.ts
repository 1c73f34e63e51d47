import 'server-only';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { RDSClient } from '@aws-sdk/client-rds';
import { SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { fromIni, fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';

// The one AWS client factory: one set of clients per environment, each call time-boxed and retried
// the SDK's standard way. Nothing else in the console constructs an AWS client.

export interface AwsClients {
  ssm: SSMClient;
  rds: RDSClient;
  ec2: EC2Client;
  iam: IAMClient;
  sts: STSClient;
}

/** A call that outlives these fails with a TimeoutError instead of hanging a panel. */
export const AWS_CONNECTION_TIMEOUT_MS = 2000;
export const AWS_REQUEST_TIMEOUT_MS = 4000;
export const AWS_MAX_ATTEMPTS = 3;

const LAB_CREDENTIALS = { accessKeyId: 'LABCONSOLE', secretAccessKey: 'lab-not-a-secret' };

const byEnvironment = processWide('aws.clients', () => new Map<string, { key: string; clients: AwsClients }>());

export function awsClients(env: AwsEnvironmentConfig): AwsClients {
  const key = JSON.stringify([env.region, env.endpoint, env.credentials]);
  const existing = byEnvironment.get(env.name);
  if (existing?.key === key) return existing.clients;

  const common = {
    region: env.region,
    endpoint: env.endpoint,
    credentials: credentialsFor(env),
    maxAttempts: AWS_MAX_ATTEMPTS,
    retryMode: 'standard' as const,
    requestHandler: {
      connectionTimeout: AWS_CONNECTION_TIMEOUT_MS,
      requestTimeout: AWS_REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
    },
  };
  const clients: AwsClients = {
    ssm: new SSMClient(common),
    rds: new RDSClient(common),
    ec2: new EC2Client(common),
    iam: new IAMClient(common),
    sts: new STSClient(common),
  };
  byEnvironment.set(env.name, { key, clients });
  return clients;
}

function credentialsFor(env: AwsEnvironmentConfig): SSMClientConfig['credentials'] {
  const c = env.credentials;
  switch (c.source) {
    case 'default':
      return undefined; // the SDK's default provider chain
    case 'profile':
      return fromIni({ profile: c.profile });
    case 'assume-role':
      return fromTemporaryCredentials({
        params: { RoleArn: c.roleArn, RoleSessionName: c.sessionName, ExternalId: c.externalId },
        clientConfig: { region: env.region },
      });
    case 'lab':
      return LAB_CREDENTIALS;
  }
}
