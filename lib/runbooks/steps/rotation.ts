import 'server-only';
import { pendingPasswordName } from '@/lib/aws/parameters';
import { passwordChangePending } from '@/lib/aws/rds';
import type { AwsCheckContext } from '@/lib/checks/context';
import { aws, rotationPage, sh } from '@/lib/checks/fixes';
import type { CheckDefinition } from '@/lib/checks/run';
import type { Evidence } from '@/lib/checks/types';
import { currentLock } from '@/lib/operations/lock';
import type { RunbookOnlyStepId } from '../types';

// "Is a rotation pending or half-done?" A rotation stores the new password in a pending slot before
// RDS gets it and removes the slot after promoting it. A pending slot with nobody holding the lock
// is a rotation that stopped half-way: SSM and RDS may disagree, and the rotate page can finish or
// roll it back. A pending RDS password change alone is a change made outside the console. The slot's
// metadata comes with the status's own DescribeParameters call: this step costs no AWS call.

/** The lock lives in the console's own store; when that cannot be read the step says so rather than guess. */
async function rotationLock(environment: string): Promise<{ held: boolean; by?: string; since?: string; operation?: string } | { unknown: string }> {
  try {
    const lock = await currentLock(environment);
    return lock && lock.holderAlive ? { held: true, by: lock.by, since: lock.since, operation: lock.operation } : { held: false };
  } catch (err) {
    return { unknown: err instanceof Error ? err.name : 'error' };
  }
}

export const rotationPendingStep: CheckDefinition<AwsCheckContext, RunbookOnlyStepId> = {
  id: 'rotation.pending',
  kinds: ['aws'],
  async run(ctx) {
    const { env } = ctx;
    const [params, db, lock] = await Promise.all([ctx.parameters(), ctx.dbInstance(), rotationLock(env.name)]);
    const slot = params.pendingSlot;
    if (slot === undefined) return { status: 'error', summary: `Could not check: ${params.metadataUnavailable ?? 'SSM did not describe the pending slot'}`, evidence: {} };
    const rdsChanging = !!db && (passwordChangePending(db) || db.status === 'resetting-master-credentials');
    const evidence: Evidence = {
      'pending slot': slot ? `${pendingPasswordName(env)} (version ${slot.version}${slot.lastModifiedDate ? `, written ${slot.lastModifiedDate}` : ''})` : 'none',
      'RDS password change': rdsChanging ? `in progress (${db?.status ?? 'unknown'})` : 'none pending',
      lock: 'unknown' in lock ? `could not read (${lock.unknown})` : lock.held ? `${lock.operation} by ${lock.by} since ${lock.since}` : 'free',
    };
    const rotatePage = rotationPage(env);
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
          commands: [aws(env, 'ssm describe-parameters --parameter-filters', `Key=Name,Option=Equals,Values=${pendingPasswordName(env)}`)],
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
          commands: [aws(env, 'rds describe-db-instances --db-instance-identifier', sh(env.rdsInstanceId), "--query 'DBInstances[0].[DBInstanceStatus,PendingModifiedValues]'")],
        },
      };
    }
    if ('unknown' in lock) {
      return { status: 'pass', summary: 'No pending password in SSM and no RDS password change in progress (the console lock could not be read)', evidence };
    }
    return { status: 'pass', summary: 'No rotation is pending or half-done', evidence };
  },
};
