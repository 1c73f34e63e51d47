import 'server-only';
import { DescribeParametersCommand } from '@aws-sdk/client-ssm';
import { cached } from '@/lib/aws/cache';
import { awsClients } from '@/lib/aws/clients';
import type { AwsCheckContext } from '@/lib/checks/context';
import type { Evidence } from '@/lib/checks/types';
import { currentLock } from '@/lib/rotation/lock';
import { pendingName } from '@/lib/rotation/aws';
import { endpointFlag, type StepContext, type StepOutcome } from './context';

// "Is a rotation pending or half-done?" A rotation stores the new password in a pending slot before
// RDS gets it and removes the slot after promoting it. A pending slot with nobody holding the lock
// is a rotation that stopped half-way: SSM and RDS may disagree, and the rotate page can finish or
// roll it back. A pending RDS password change alone is a change made outside the console.

type Ctx = StepContext<AwsCheckContext>;

async function pendingSlot(ctx: Ctx): Promise<{ version: number; lastModified: string | null } | null> {
  const name = pendingName(ctx.env);
  const { value } = await cached(
    `runbooks:${ctx.env.name}:pending-slot`,
    ctx.ttlMs,
    async () => {
      const out = await awsClients(ctx.env).ssm.send(
        new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [name] }] }),
        { abortSignal: ctx.signal },
      );
      const p = out.Parameters?.find((x) => x.Name === name);
      return p ? { version: p.Version ?? 0, lastModified: p.LastModifiedDate ? new Date(p.LastModifiedDate).toISOString() : null } : null;
    },
    { fresh: ctx.fresh },
  );
  return value;
}

/** The lock lives in the console's own store; when that cannot be read the step says so rather than guess. */
async function rotationLock(environment: string): Promise<{ held: boolean; by?: string; since?: string; operation?: string } | { unknown: string }> {
  try {
    const lock = await currentLock(environment);
    return lock && lock.holderAlive ? { held: true, by: lock.by, since: lock.since, operation: lock.operation } : { held: false };
  } catch (err) {
    return { unknown: err instanceof Error ? err.name : 'error' };
  }
}

export async function rotationPendingStep(ctx: Ctx): Promise<StepOutcome> {
  const { env } = ctx;
  const [slot, db, lock] = await Promise.all([pendingSlot(ctx), ctx.reads.dbInstance(), rotationLock(env.name)]);
  const rdsChanging = !!db && (db.pendingModifications.includes('MasterUserPassword') || db.status === 'resetting-master-credentials');
  const evidence: Evidence = {
    'pending slot': slot ? `${pendingName(env)} (version ${slot.version}${slot.lastModified ? `, written ${slot.lastModified}` : ''})` : 'none',
    'RDS password change': rdsChanging ? `in progress (${db?.status ?? 'unknown'})` : 'none pending',
    lock: 'unknown' in lock ? `could not read (${lock.unknown})` : lock.held ? `${lock.operation} by ${lock.by} since ${lock.since}` : 'free',
  };
  const rotatePage = `/environments/${env.name}/rotate`;
  if ('held' in lock && lock.held && lock.operation === 'rotation') {
    return {
      status: 'warn',
      summary: `A rotation by ${lock.by} is under way: logins may fail for a few seconds until it promotes the new password`,
      evidence,
      fix: { summary: `Follow it on ${rotatePage}; do not change the password by hand meanwhile` },
    };
  }
  if (slot) {
    return {
      status: 'fail',
      summary: 'A rotation stopped half-way: a pending password is stored and nobody is working on it, so SSM and RDS may disagree',
      evidence,
      fix: {
        summary: `Open ${rotatePage} to resume the rotation or roll it back (RDS is set back to the current SSM password)`,
        commands: [
          `aws ssm describe-parameters --parameter-filters Key=Name,Option=Equals,Values=${pendingName(env)} --region ${env.region}${endpointFlag(env)}`,
        ],
      },
    };
  }
  if (rdsChanging) {
    return {
      status: 'warn',
      summary: 'RDS is applying a master password change that the console did not start; SSM will not know the new password',
      evidence,
      fix: {
        summary: 'Find who changed it; then store the password RDS now has in SSM, or rotate from the console',
        commands: [
          `aws rds describe-db-instances --db-instance-identifier ${env.rdsInstanceId} --query 'DBInstances[0].[DBInstanceStatus,PendingModifiedValues]' --region ${env.region}${endpointFlag(env)}`,
        ],
      },
    };
  }
  if ('unknown' in lock) {
    return { status: 'pass', summary: 'No pending password in SSM and no RDS password change in progress (the console lock could not be read)', evidence };
  }
  return { status: 'pass', summary: 'No rotation is pending or half-done', evidence };
}
