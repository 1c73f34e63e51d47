import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// Who asks where. Environments with the same scope (region, endpoint, credentials) see the same AWS
// answers: they share clients, cache keys and batched calls. No 'server-only': the catalogue of
// calls (and the IAM policy infra/aws builds from it) must know which environments share calls.

export function awsScope(env: Pick<AwsEnvironmentConfig, 'region' | 'endpoint' | 'credentials'>): string {
  return JSON.stringify([env.region, env.endpoint ?? null, env.credentials]);
}
