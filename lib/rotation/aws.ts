import 'server-only';
import {
  DescribeDBInstancesCommand,
  ModifyDBInstanceCommand,
} from '@aws-sdk/client-rds';
import {
  DeleteParameterCommand,
  DescribeParametersCommand,
  GetParametersCommand,
  PutParameterCommand,
} from '@aws-sdk/client-ssm';
import { awsClients } from '@/lib/aws/clients';
import { describeAwsError, redact } from '@/lib/aws/errors';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { loginToDatabase, type DatabaseTarget } from '@/lib/db';

// Every AWS and database call the rotation makes. Passwords enter and leave only through these
// functions' arguments and return values, are never cached, and every error text is scrubbed of them.

export function passwordName(env: AwsEnvironmentConfig): string {
  return `${env.parameterPrefix}/db-password`;
}

export function pendingName(env: AwsEnvironmentConfig): string {
  return `${env.parameterPrefix}/db-password-pending`;
}

export interface StoredPasswords {
  current: { value: string; version: number; type: string } | null;
  pending: { value: string; version: number } | null;
}

/** Both slots in one decrypted read, so a caller never sees one slot from before a step and one from after. */
export async function readPasswords(env: AwsEnvironmentConfig): Promise<StoredPasswords> {
  const { ssm } = awsClients(env);
  const out = await ssm.send(new GetParametersCommand({ Names: [passwordName(env), pendingName(env)], WithDecryption: true }));
  const byName = new Map((out.Parameters ?? []).map((p) => [p.Name, p]));
  const current = byName.get(passwordName(env));
  const pending = byName.get(pendingName(env));
  return {
    current: current?.Value !== undefined ? { value: current.Value, version: current.Version ?? 0, type: current.Type ?? 'String' } : null,
    pending: pending?.Value !== undefined ? { value: pending.Value, version: pending.Version ?? 0 } : null,
  };
}

/** Metadata only: whether each slot exists, its type and version. No decryption. */
export async function describePasswordSlots(env: AwsEnvironmentConfig): Promise<{
  current: { type: string; version: number; keyId: string | null } | null;
  pending: { version: number } | null;
}> {
  const { ssm } = awsClients(env);
  const out = await ssm.send(
    new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [passwordName(env), pendingName(env)] }] }),
  );
  const byName = new Map((out.Parameters ?? []).map((p) => [p.Name, p]));
  const current = byName.get(passwordName(env));
  const pending = byName.get(pendingName(env));
  return {
    current: current ? { type: current.Type ?? 'String', version: current.Version ?? 0, keyId: current.KeyId ?? null } : null,
    pending: pending ? { version: pending.Version ?? 0 } : null,
  };
}

/** Writes a SecureString with the key db-password already uses, so a rotation never changes who can decrypt it. */
async function putSecureString(env: AwsEnvironmentConfig, name: string, value: string): Promise<number> {
  const { ssm } = awsClients(env);
  const slots = await describePasswordSlots(env);
  const keyId = slots.current?.keyId ?? undefined;
  const out = await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true, KeyId: keyId }));
  return out.Version ?? 0;
}

export function storePending(env: AwsEnvironmentConfig, password: string): Promise<number> {
  return putSecureString(env, pendingName(env), password);
}

export function promotePassword(env: AwsEnvironmentConfig, password: string): Promise<number> {
  return putSecureString(env, passwordName(env), password);
}

/** Idempotent: a slot that is already gone is fine. */
export async function deletePending(env: AwsEnvironmentConfig): Promise<'deleted' | 'already-gone'> {
  const { ssm } = awsClients(env);
  try {
    await ssm.send(new DeleteParameterCommand({ Name: pendingName(env) }));
    return 'deleted';
  } catch (err) {
    if ((err as { name?: string }).name === 'ParameterNotFound') return 'already-gone';
    throw err;
  }
}

export interface DbInstanceState {
  status: string;
  /** Names of the modifications RDS has not applied yet. */
  pending: string[];
  passwordChangePending: boolean;
  endpoint: string | null;
}

export async function describeDbInstance(env: AwsEnvironmentConfig): Promise<DbInstanceState> {
  const { rds } = awsClients(env);
  const out = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.rdsInstanceId }));
  const instance = out.DBInstances?.[0];
  if (!instance) throw new Error(`RDS reports no instance ${env.rdsInstanceId}`);
  const pendingValues = (instance.PendingModifiedValues ?? {}) as Record<string, unknown>;
  const pending = Object.entries(pendingValues)
    .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k]) => k);
  return {
    status: instance.DBInstanceStatus ?? 'unknown',
    pending,
    passwordChangePending: pendingValues.MasterUserPassword !== undefined && pendingValues.MasterUserPassword !== null,
    endpoint: instance.Endpoint?.Address ?? null,
  };
}

export async function setMasterPassword(env: AwsEnvironmentConfig, password: string): Promise<void> {
  const { rds } = awsClients(env);
  await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: env.rdsInstanceId, MasterUserPassword: password, ApplyImmediately: true }));
}

/** RDS answered and refused, so the instance is certainly unchanged (unlike a timeout, which may have landed). */
export function isDefiniteRefusal(err: unknown): boolean {
  const name = (err as { name?: string }).name ?? '';
  const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  if (/Throttl|RequestLimitExceeded/.test(name)) return false;
  return status !== undefined && status >= 400 && status < 500;
}

export type LoginTarget = DatabaseTarget;

/** Where and as whom to log in: the plain SSM parameters the backends use, reached the way the console reaches RDS. */
export async function loginTarget(env: AwsEnvironmentConfig): Promise<LoginTarget> {
  const { ssm } = awsClients(env);
  const names = ['db-endpoint', 'db-username', 'db-name'].map((k) => `${env.parameterPrefix}/${k}`);
  const out = await ssm.send(new GetParametersCommand({ Names: names, WithDecryption: false }));
  const value = (key: string) => out.Parameters?.find((p) => p.Name === `${env.parameterPrefix}/${key}`)?.Value;
  const endpoint = value('db-endpoint');
  const user = value('db-username');
  const database = value('db-name');
  if (!endpoint || !user || !database) {
    throw new Error(`SSM is missing ${[!endpoint && 'db-endpoint', !user && 'db-username', !database && 'db-name'].filter(Boolean).join(', ')} under ${env.parameterPrefix}`);
  }
  return { host: env.reachVia?.host ?? endpoint, port: env.reachVia?.port ?? env.dbPort, user, database };
}

export type LoginResult = { ok: true } | { ok: false; code: string | null; message: string };

/** One login attempt with this password through the console's one database login; the error is scrubbed of it. */
export async function tryLogin(target: LoginTarget, password: string): Promise<LoginResult> {
  const result = await loginToDatabase(target, password);
  if (result.ok) return { ok: true };
  return { ok: false, code: result.error?.code ?? null, message: redact(result.error?.message ?? 'login failed', [password]) };
}

/** An operator-readable reason for a failed AWS call, never containing the given secrets. */
export function explainAwsError(err: unknown, action: string, secrets: string[]): string {
  return describeAwsError(err, { action, redact: secrets }).message;
}
