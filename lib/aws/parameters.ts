import 'server-only';
import { createHmac, randomBytes } from 'node:crypto';
import {
  DeleteParameterCommand,
  DescribeParametersCommand,
  GetParameterHistoryCommand,
  GetParametersCommand,
  PutParameterCommand,
  type Parameter,
  type ParameterMetadata,
  type ParameterType,
} from '@aws-sdk/client-ssm';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import { batched, type BatchedApi } from './batch';
import { awsClients, sendOptions, type CallOptions } from './clients';
import { LINKBOX_PARAMETERS, parameterName, pendingPasswordName, type LinkboxParameterKey } from './parameter-names';

// The four parameters start_application.sh reads, and the rotation's pending slot beside
// db-password. Readers return plain values; the password's value leaves this module only through
// the two functions that decrypt it (readDatabasePassword, readPasswordSlots), never through a read
// that may be cached or shown. Past versions are decrypted only to be fingerprinted here
// (fingerprintPasswordVersions): what leaves is an HMAC under a key that never leaves the process.

export { LINKBOX_PARAMETERS, parameterName, pendingPasswordName, type LinkboxParameterKey } from './parameter-names';

export interface LinkboxParameter {
  name: string;
  type: ParameterType | null;
  version: number | null;
  /** ISO time. */
  lastModifiedDate: string | null;
  /** The IAM ARN that last wrote it (DescribeParameters); null when not readable. */
  lastModifiedUser: string | null;
  /** Absent for db-password, always. */
  value?: string;
}

export interface PendingSlot {
  version: number;
  lastModifiedDate: string | null;
}

export interface LinkboxParameters {
  prefix: string;
  /** The account the parameters live in (from their ARN), null when none was returned. */
  account: string | null;
  /** Keys of the four names that GetParameters reported as missing. */
  missing: LinkboxParameterKey[];
  parameters: Partial<Record<LinkboxParameterKey, LinkboxParameter>>;
  /** The rotation's pending slot: null when absent, undefined when DescribeParameters failed. */
  pendingSlot?: PendingSlot | null;
  /** Why lastModifiedUser and the pending slot are unknown, when DescribeParameters failed (the rest is still valid). */
  metadataUnavailable?: string;
}

/** SSM answers at most this many names (version selectors included) per GetParameters call. */
const GET_PARAMETERS_MAX = 10;
/** A DescribeParameters filter takes at most this many values, and a page at most this many results. */
const DESCRIBE_PARAMETERS_MAX = 50;

/**
 * GetParameters for the names of every environment of a scope, decrypted or not. Each requester gets
 * only the parameters it named; a name SSM does not have (InvalidParameters) is simply absent from
 * its requester's answer, so it is that environment's missing parameter and nobody else's.
 */
const GET_PARAMETERS: BatchedApi<{ names: string[]; decrypt: boolean }, Parameter[], Parameter[]> = {
  name: 'ssm:GetParameters',
  variant: (q) => (q.decrypt ? 'decrypted' : 'plain'),
  limit: GET_PARAMETERS_MAX,
  units: (q) => q.names,
  async send(env, names, [q], opts) {
    const out = await awsClients(env).ssm.send(new GetParametersCommand({ Names: names, WithDecryption: q!.decrypt }), sendOptions(opts));
    return out.Parameters ?? [];
  },
  answer(q, answers) {
    const asked = new Set(q.names);
    return answers.flat().filter((p) => asked.has(p.Name ?? ''));
  },
};

/** The metadata of the names every environment of a scope asked for, in as few filtered calls as the filter's 50 values allow. */
const DESCRIBE_PARAMETERS: BatchedApi<string[], ParameterMetadata[], ParameterMetadata[]> = {
  name: 'ssm:DescribeParameters',
  limit: DESCRIBE_PARAMETERS_MAX,
  units: (names) => names,
  async send(env, names, _requests, opts) {
    const found: ParameterMetadata[] = [];
    let NextToken: string | undefined;
    do {
      const out = await awsClients(env).ssm.send(
        new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: names }], MaxResults: DESCRIBE_PARAMETERS_MAX, NextToken }),
        sendOptions(opts),
      );
      found.push(...(out.Parameters ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    return found;
  },
  answer(names, answers) {
    const asked = new Set(names);
    return answers.flat().filter((p) => asked.has(p.Name ?? ''));
  },
};

/**
 * The four parameters without decryption (GetParameters) and their metadata, with the pending slot's,
 * in one DescribeParameters call: two calls for everything a status and a diagnosis show about SSM,
 * shared with the other environments of the scope that read theirs in the same tick (lib/aws/batch.ts).
 */
export async function readLinkboxParameters(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<LinkboxParameters> {
  const names = LINKBOX_PARAMETERS.map((k) => parameterName(env, k));
  const pendingName = pendingPasswordName(env);
  const described = batched(env, DESCRIBE_PARAMETERS, [...names, pendingName], opts).then(
    (found) => ({ byName: new Map(found.map((p) => [p.Name ?? '', p])) }),
    (err: unknown) => ({ error: err as { name?: string } }),
  );
  const [got, meta] = await Promise.all([batched(env, GET_PARAMETERS, { names, decrypt: false }, opts), described]);

  const result: LinkboxParameters = { prefix: env.parameterPrefix, account: null, missing: [], parameters: {} };
  const byName = new Map(got.map((p) => [p.Name, p]));
  for (const key of LINKBOX_PARAMETERS) {
    const name = parameterName(env, key);
    const p = byName.get(name);
    if (!p) {
      result.missing.push(key);
      continue;
    }
    result.account ??= accountOf(p.ARN);
    const entry: LinkboxParameter = {
      name,
      type: p.Type ?? null,
      version: typeof p.Version === 'number' ? p.Version : null,
      lastModifiedDate: toIso(p.LastModifiedDate),
      lastModifiedUser: 'byName' in meta ? (meta.byName.get(name)?.LastModifiedUser ?? null) : null,
    };
    if (key !== 'db-password' && typeof p.Value === 'string') entry.value = p.Value;
    result.parameters[key] = entry;
  }
  if ('byName' in meta) {
    const pending = meta.byName.get(pendingName);
    result.pendingSlot = pending ? { version: pending.Version ?? 0, lastModifiedDate: toIso(pending.LastModifiedDate) } : null;
  } else {
    result.metadataUnavailable = `DescribeParameters failed: ${meta.error.name ?? 'Error'}`;
  }
  return result;
}

/**
 * The one decrypted read for a login: db-password's value. Environments of the scope that decrypt
 * theirs in the same tick share GetParameters calls (ten names a call); each gets only its own value.
 */
export async function readDatabasePassword(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<string> {
  const name = parameterName(env, 'db-password');
  const found = await batched(env, GET_PARAMETERS, { names: [name], decrypt: true }, opts);
  const value = found.find((p) => p.Name === name)?.Value;
  if (value === undefined) throw new MissingParameterError(name);
  return value;
}

export interface PasswordSlots {
  current: { value: string; version: number; type: string } | null;
  pending: { value: string; version: number } | null;
}

/** Both slots decrypted in one read, so a rotation never sees one slot from before a step and one from after. */
export async function readPasswordSlots(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<PasswordSlots> {
  const current = parameterName(env, 'db-password');
  const pending = pendingPasswordName(env);
  const out = await awsClients(env).ssm.send(new GetParametersCommand({ Names: [current, pending], WithDecryption: true }), sendOptions(opts));
  const byName = new Map((out.Parameters ?? []).map((p) => [p.Name, p]));
  const c = byName.get(current);
  const p = byName.get(pending);
  return {
    current: c?.Value !== undefined ? { value: c.Value, version: c.Version ?? 0, type: c.Type ?? 'String' } : null,
    pending: p?.Value !== undefined ? { value: p.Value, version: p.Version ?? 0 } : null,
  };
}

export interface PasswordSlotsMetadata {
  current: { type: string; version: number; keyId: string | null } | null;
  pending: { version: number } | null;
}

/** Whether each slot exists, its type, version and key: no decryption. */
export async function describePasswordSlots(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<PasswordSlotsMetadata> {
  const current = parameterName(env, 'db-password');
  const pending = pendingPasswordName(env);
  const out = await awsClients(env).ssm.send(
    new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [current, pending] }] }),
    sendOptions(opts),
  );
  const byName = new Map((out.Parameters ?? []).map((p) => [p.Name, p]));
  const c = byName.get(current);
  const p = byName.get(pending);
  return {
    current: c ? { type: c.Type ?? 'String', version: c.Version ?? 0, keyId: c.KeyId ?? null } : null,
    pending: p ? { version: p.Version ?? 0 } : null,
  };
}

/**
 * Writes a password slot as a SecureString with the key db-password already uses, so a rotation
 * never changes who can decrypt it. Returns the new version.
 */
export async function writePasswordSlot(env: AwsEnvironmentConfig, slot: 'current' | 'pending', value: string, opts: CallOptions = {}): Promise<number> {
  const keyId = (await describePasswordSlots(env, opts)).current?.keyId ?? undefined;
  const name = slot === 'current' ? parameterName(env, 'db-password') : pendingPasswordName(env);
  const out = await awsClients(env).ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true, KeyId: keyId }), sendOptions(opts));
  return out.Version ?? 0;
}

/** Idempotent: a slot that is already gone is fine. */
export async function deletePendingSlot(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<'deleted' | 'already-gone'> {
  try {
    await awsClients(env).ssm.send(new DeleteParameterCommand({ Name: pendingPasswordName(env) }), sendOptions(opts));
    return 'deleted';
  } catch (err) {
    if ((err as { name?: string }).name === 'ParameterNotFound') return 'already-gone';
    throw err;
  }
}

export interface ParameterVersion {
  version: number;
  /** ISO time the version was written. */
  lastModifiedDate: string | null;
}

/** Every version SSM keeps of db-password (the last 100), oldest first: times only, nothing decrypted. */
export async function readPasswordVersions(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<ParameterVersion[]> {
  const { ssm } = awsClients(env);
  const versions: ParameterVersion[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ssm.send(new GetParameterHistoryCommand({ Name: parameterName(env, 'db-password'), WithDecryption: false, MaxResults: 50, NextToken }), sendOptions(opts));
    for (const p of out.Parameters ?? []) if (typeof p.Version === 'number') versions.push({ version: p.Version, lastModifiedDate: toIso(p.LastModifiedDate) });
    NextToken = out.NextToken;
  } while (NextToken);
  return versions.sort((a, b) => a.version - b.version);
}


/**
 * A fingerprint of each of these versions of db-password: exactly these versions are decrypted
 * (GetParameters with "name:version" selectors), each value is turned into an HMAC under a key made
 * for this process, and dropped. Equal fingerprints mean equal values; a fingerprint tells nothing
 * about the value without the key. A version SSM no longer keeps is absent from the answer.
 */
export async function fingerprintPasswordVersions(env: AwsEnvironmentConfig, versions: ParameterVersion[], opts: CallOptions = {}): Promise<Map<number, string>> {
  const { ssm } = awsClients(env);
  const name = parameterName(env, 'db-password');
  const fingerprints = new Map<number, string>();
  for (let i = 0; i < versions.length; i += GET_PARAMETERS_MAX) {
    const chunk = versions.slice(i, i + GET_PARAMETERS_MAX);
    const out = await ssm.send(new GetParametersCommand({ Names: chunk.map((v) => `${name}:${v.version}`), WithDecryption: true }), sendOptions(opts));
    for (const p of out.Parameters ?? []) {
      const asked = chunk.find((v) => v.version === p.Version);
      // Deleted and created again since the history was read: another value under the same number.
      if (!asked || p.Value === undefined || (asked.lastModifiedDate && toIso(p.LastModifiedDate) !== asked.lastModifiedDate)) continue;
      fingerprints.set(asked.version, passwordFingerprint(p.Value));
    }
  }
  return fingerprints;
}

const fingerprintKey = processWide('aws.password-fingerprint-key', () => randomBytes(32));

function passwordFingerprint(value: string): string {
  return createHmac('sha256', fingerprintKey).update(value, 'utf8').digest('base64url');
}

export class MissingParameterError extends Error {
  constructor(name: string) {
    super(`${name} does not exist or has no value`);
    this.name = 'ParameterNotFound';
  }
}

function accountOf(arn: string | undefined): string | null {
  return /^arn:[^:]+:ssm:[^:]*:(\d{12}):/.exec(arn ?? '')?.[1] ?? null;
}

function toIso(d: Date | string | undefined): string | null {
  if (!d) return null;
  const date = d instanceof Date ? d : new Date(d);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
