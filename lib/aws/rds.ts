import 'server-only';
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand } from '@aws-sdk/client-rds';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
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

/** Null when the instance does not exist (a verdict); any other failure throws (could not check). */
export async function describeDatabaseInstance(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<DatabaseInstance | null> {
  let out;
  try {
    out = await awsClients(env).rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.rdsInstanceId }), sendOptions(opts));
  } catch (err) {
    if ((err as { name?: string }).name?.startsWith('DBInstanceNotFound')) return null;
    throw err;
  }
  const db = out.DBInstances?.find((d) => d.DBInstanceIdentifier === env.rdsInstanceId) ?? out.DBInstances?.[0];
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
