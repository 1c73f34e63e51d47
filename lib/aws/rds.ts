import 'server-only';
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand, type DBInstance as SdkDBInstance } from '@aws-sdk/client-rds';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { batched, type BatchedApi } from './batch';
import { awsClients, sendOptions, type CallOptions } from './clients';

// The RDS instance as the checks and the rotation need it: plain values, never the SDK object.

export interface DatabaseInstance {
  id: string;
  status: string | null;
  engine: string | null;
  engineVersion: string | null;
  endpointAddress: string | null;
  endpointPort: number | null;
  masterUsername: string | null;
  publiclyAccessible: boolean | null;
  /** Names of the pending modifications (e.g. "MasterUserPassword"), never their values. */
  pendingModifications: string[];
  securityGroupIds: string[];
  dbName: string | null;
  availabilityZone: string | null;
  /** Where RDS may place the instance's interface: the DB subnet group's subnets, and their VPC. */
  subnetGroup: { name: string | null; vpcId: string | null; subnetIds: string[] } | null;
}

/**
 * Null when the instance does not exist (a verdict); any other failure throws (could not check).
 * Environments of the scope that describe theirs in the same tick share one call (lib/aws/batch.ts).
 */
export async function describeDatabaseInstance(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<DatabaseInstance | null> {
  const db = await batched(env, DESCRIBE_DB_INSTANCES, env.rdsInstanceId, opts);
  if (!db) return null;
  const pending = Object.entries(db.PendingModifiedValues ?? {})
    .filter(([, v]) => v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k]) => k);
  return {
    id: db.DBInstanceIdentifier ?? env.rdsInstanceId,
    status: db.DBInstanceStatus ?? null,
    engine: db.Engine ?? null,
    engineVersion: db.EngineVersion ?? null,
    endpointAddress: db.Endpoint?.Address ?? null,
    endpointPort: db.Endpoint?.Port ?? null,
    masterUsername: db.MasterUsername ?? null,
    publiclyAccessible: typeof db.PubliclyAccessible === 'boolean' ? db.PubliclyAccessible : null,
    pendingModifications: pending,
    securityGroupIds: (db.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId ?? '').filter(Boolean),
    dbName: db.DBName ?? null,
    availabilityZone: db.AvailabilityZone ?? null,
    subnetGroup: db.DBSubnetGroup
      ? {
          name: db.DBSubnetGroup.DBSubnetGroupName ?? null,
          vpcId: db.DBSubnetGroup.VpcId ?? null,
          subnetIds: (db.DBSubnetGroup.Subnets ?? []).flatMap((s) => (s.SubnetIdentifier ? [s.SubnetIdentifier] : [])),
        }
      : null,
  };
}

/** Ids one filtered DescribeDBInstances call carries (a page holds at most 100 instances). */
const DESCRIBE_DB_INSTANCES_MAX = 100;

/**
 * One instance alone is described by its identifier, which IAM authorizes on `db:<id>`. Several are
 * described in one call filtered on `db-instance-id`, which IAM authorizes on `db:*`: the catalogue
 * grants that only where environments share a scope (lib/aws/catalogue.ts), and where it is refused
 * the batch asks for each instance alone. An instance nobody asked for is never anyone's answer.
 */
const DESCRIBE_DB_INSTANCES: BatchedApi<string, SdkDBInstance[], SdkDBInstance | null> = {
  name: 'rds:DescribeDBInstances',
  limit: DESCRIBE_DB_INSTANCES_MAX,
  units: (id) => [id],
  async send(env, ids, _requests, opts) {
    const { rds } = awsClients(env);
    if (ids.length === 1) {
      try {
        return (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: ids[0] }), sendOptions(opts))).DBInstances ?? [];
      } catch (err) {
        if ((err as { name?: string }).name?.startsWith('DBInstanceNotFound')) return [];
        throw err;
      }
    }
    const found: SdkDBInstance[] = [];
    let Marker: string | undefined;
    do {
      const out = await rds.send(
        new DescribeDBInstancesCommand({ Filters: [{ Name: 'db-instance-id', Values: ids }], MaxRecords: DESCRIBE_DB_INSTANCES_MAX, Marker }),
        sendOptions(opts),
      );
      found.push(...(out.DBInstances ?? []));
      Marker = out.Marker;
    } while (Marker);
    return found;
  },
  // RDS keeps identifiers in lower case, whatever case the config uses.
  answer: (id, answers) => answers.flat().find((db) => db.DBInstanceIdentifier?.toLowerCase() === id.toLowerCase() || db.DBInstanceArn === id) ?? null,
};

/** True while RDS has a master password change it has not applied yet. */
export function passwordChangePending(db: DatabaseInstance): boolean {
  return db.pendingModifications.includes('MasterUserPassword');
}

export async function setMasterPassword(env: AwsEnvironmentConfig, password: string, opts: CallOptions = {}): Promise<void> {
  await awsClients(env).rds.send(
    new ModifyDBInstanceCommand({ DBInstanceIdentifier: env.rdsInstanceId, MasterUserPassword: password, ApplyImmediately: true }),
    sendOptions(opts),
  );
}
