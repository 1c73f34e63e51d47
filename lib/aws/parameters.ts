import 'server-only';
import { DescribeParametersCommand, GetParametersCommand, type ParameterType } from '@aws-sdk/client-ssm';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { awsClients } from './clients';

// The four parameters start_application.sh reads, as the console may show them: values of the three
// plain ones, metadata of all four, and never the password's value (read without decryption, and
// dropped even when someone stored it as a plain String).

export const LINKBOX_PARAMETERS = ['db-endpoint', 'db-username', 'db-password', 'db-name'] as const;
export type LinkboxParameterKey = (typeof LINKBOX_PARAMETERS)[number];

export interface LinkboxParameter {
  name: string;
  type: ParameterType | null;
  version: number | null;
  /** ISO time. */
  lastModifiedDate: string | null;
  /** The IAM ARN that last wrote it (DescribeParameters); null when not asked for or not readable. */
  lastModifiedUser: string | null;
  /** Absent for db-password, always. */
  value?: string;
}

export interface LinkboxParameters {
  prefix: string;
  /** Keys of the four names that GetParameters reported as missing. */
  missing: LinkboxParameterKey[];
  parameters: Partial<Record<LinkboxParameterKey, LinkboxParameter>>;
  /** Why lastModifiedUser is unknown, when DescribeParameters failed (the rest is still valid). */
  usersUnavailable?: string;
}

export interface ReadParametersOptions {
  /** Also ask DescribeParameters for LastModifiedUser (one more call, for all four names at once). */
  withUsers?: boolean;
  abortSignal?: AbortSignal;
}

export function parameterName(env: AwsEnvironmentConfig, key: LinkboxParameterKey): string {
  return `${env.parameterPrefix}/${key}`;
}

export async function readLinkboxParameters(env: AwsEnvironmentConfig, opts: ReadParametersOptions = {}): Promise<LinkboxParameters> {
  const { ssm } = awsClients(env);
  const names = LINKBOX_PARAMETERS.map((k) => parameterName(env, k));
  const sendOpts = opts.abortSignal ? { abortSignal: opts.abortSignal } : undefined;

  const usersCall = opts.withUsers
    ? ssm
        .send(
          new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: names }], MaxResults: 50 }),
          sendOpts,
        )
        .then(
          (out) => ({ users: new Map((out.Parameters ?? []).map((p) => [p.Name ?? '', p.LastModifiedUser ?? null])) }),
          (err: unknown) => ({ error: err }),
        )
    : Promise.resolve(undefined);

  const [got, described] = await Promise.all([ssm.send(new GetParametersCommand({ Names: names, WithDecryption: false }), sendOpts), usersCall]);

  const result: LinkboxParameters = { prefix: env.parameterPrefix, missing: [], parameters: {} };
  const byName = new Map((got.Parameters ?? []).map((p) => [p.Name, p]));
  for (const key of LINKBOX_PARAMETERS) {
    const name = parameterName(env, key);
    const p = byName.get(name);
    if (!p) {
      result.missing.push(key);
      continue;
    }
    const entry: LinkboxParameter = {
      name,
      type: p.Type ?? null,
      version: typeof p.Version === 'number' ? p.Version : null,
      lastModifiedDate: toIso(p.LastModifiedDate),
      lastModifiedUser: described && 'users' in described ? (described.users.get(name) ?? null) : null,
    };
    if (key !== 'db-password' && typeof p.Value === 'string') entry.value = p.Value;
    result.parameters[key] = entry;
  }
  if (described && 'error' in described) {
    const e = described.error as { name?: string; message?: string };
    result.usersUnavailable = `DescribeParameters failed: ${e.name ?? 'Error'}`;
  }
  return result;
}

function toIso(d: Date | string | undefined): string | null {
  if (!d) return null;
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
