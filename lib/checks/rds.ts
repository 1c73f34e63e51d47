import 'server-only';
import { parameterName } from '@/lib/aws/parameters';
import type { DatabaseInstance } from '@/lib/aws/rds';
import type { AwsCheckContext } from './context';
import { aws, sh } from './fixes';
import type { CheckDefinition } from './run';
import type { Evidence, Verdict } from './types';

// The RDS instance: usable, and the instance SSM points the backends at.

/** The instance will not accept connections until someone acts. */
const BROKEN_STATES = new Set([
  'stopped',
  'stopping',
  'failed',
  'deleting',
  'storage-full',
  'restore-error',
  'insufficient-capacity',
  'inaccessible-encryption-credentials',
  'inaccessible-encryption-credentials-recoverable',
  'incompatible-network',
  'incompatible-option-group',
  'incompatible-parameters',
  'incompatible-restore',
  'incompatible-credentials',
]);

export const rdsStatusCheck: CheckDefinition<AwsCheckContext> = {
  id: 'rds.status',
  kinds: ['aws'],
  async run(ctx) {
    const db = await ctx.dbInstance();
    if (!db) return notFound(ctx);
    const evidence = instanceEvidence(db);
    if (!db.status) return { status: 'error', summary: 'Could not check: RDS did not report the instance status', evidence };
    const id = ctx.env.rdsInstanceId;
    if (db.status === 'available') {
      if (db.pendingModifications.includes('MasterUserPassword')) {
        return { status: 'warn', summary: `${id} is available, with a master password change pending`, evidence };
      }
      return { status: 'pass', summary: `${id} is available (${db.engine ?? 'engine ?'} ${db.engineVersion ?? ''})`.replace(' )', ')'), evidence };
    }
    if (BROKEN_STATES.has(db.status)) {
      const starting = db.status === 'stopped' || db.status === 'stopping';
      return {
        status: 'fail',
        summary: `${id} is ${db.status}: it accepts no connections`,
        evidence,
        fix: starting
          ? { summary: 'Start the instance (it takes a few minutes to become available).', commands: [aws(ctx.env, 'rds start-db-instance', '--db-instance-identifier', sh(id))] }
          : { summary: 'See what RDS reports about the instance, then act on it.', commands: [aws(ctx.env, 'rds describe-events', '--source-type db-instance --source-identifier', sh(id), '--duration 1440')] },
      };
    }
    return { status: 'warn', summary: `${id} is ${db.status}: connections may fail until it is available again`, evidence };
  },
};

export const rdsEndpointMatchCheck: CheckDefinition<AwsCheckContext> = {
  id: 'rds.endpoint-match',
  kinds: ['aws'],
  async run(ctx) {
    const [params, db] = await Promise.all([ctx.parameters(), ctx.dbInstance()]);
    if (!db) return notFound(ctx);
    const inSsm = params.parameters['db-endpoint']?.value;
    const name = parameterName(ctx.env, 'db-endpoint');
    const evidence: Evidence = { ssmEndpoint: inSsm ?? null, rdsEndpoint: db.endpointAddress, rdsPort: db.endpointPort };
    if (inSsm === undefined) return { status: 'skip', summary: `${name} does not exist (see ssm.parameters)`, evidence };
    if (!db.endpointAddress) return { status: 'error', summary: `Could not check: RDS reports no endpoint for ${db.id} yet (status ${db.status ?? '?'})`, evidence };
    if (normaliseHost(inSsm) === normaliseHost(db.endpointAddress)) {
      return { status: 'pass', summary: `${name} points at ${db.id} (${db.endpointAddress})`, evidence };
    }
    const hint = /:\d+$/.test(inSsm.trim()) ? ' (it must hold the address only: start_application.sh appends ":5432")' : '';
    return {
      status: 'fail',
      summary: `${name} is "${inSsm}" but ${db.id}'s endpoint is ${db.endpointAddress}${hint}`,
      evidence,
      fix: {
        summary: 'Point the parameter at the instance, then restart the backends (the console\'s restart) so start_application.sh rebuilds DATABASE_URL.',
        commands: [aws(ctx.env, 'ssm put-parameter', '--name', name, '--type String --value', sh(db.endpointAddress), '--overwrite')],
      },
    };
  },
};

export const rdsUsernameMatchCheck: CheckDefinition<AwsCheckContext> = {
  id: 'rds.username-match',
  kinds: ['aws'],
  async run(ctx) {
    const [params, db] = await Promise.all([ctx.parameters(), ctx.dbInstance()]);
    if (!db) return notFound(ctx);
    const inSsm = params.parameters['db-username']?.value;
    const name = parameterName(ctx.env, 'db-username');
    const evidence: Evidence = { ssmUsername: inSsm ?? null, rdsMasterUsername: db.masterUsername };
    if (inSsm === undefined) return { status: 'skip', summary: `${name} does not exist (see ssm.parameters)`, evidence };
    if (!db.masterUsername) return { status: 'error', summary: `Could not check: RDS did not report ${db.id}'s master username`, evidence };
    if (inSsm === db.masterUsername) return { status: 'pass', summary: `${name} is ${db.id}'s master user (${db.masterUsername})`, evidence };
    return {
      status: 'fail',
      summary: `${name} is "${inSsm}" but ${db.id}'s master user is "${db.masterUsername}": logins fail with "authentication failed"`,
      evidence,
      fix: {
        summary: 'Put the master username back in SSM, then restart the backends (the console\'s restart) so they pick it up.',
        commands: [aws(ctx.env, 'ssm put-parameter', '--name', name, '--type String --value', sh(db.masterUsername), '--overwrite')],
      },
    };
  },
};

export const rdsPrivateCheck: CheckDefinition<AwsCheckContext> = {
  id: 'rds.private',
  kinds: ['aws'],
  async run(ctx) {
    const db = await ctx.dbInstance();
    if (!db) return notFound(ctx);
    const evidence: Evidence = { publiclyAccessible: db.publiclyAccessible, endpoint: db.endpointAddress };
    if (db.publiclyAccessible === null) return { status: 'error', summary: 'Could not check: RDS did not say whether the instance is publicly accessible', evidence };
    if (!db.publiclyAccessible) return { status: 'pass', summary: `${db.id} is not publicly accessible`, evidence };
    return {
      status: 'fail',
      summary: `${db.id} is publicly accessible: its endpoint resolves to a public address`,
      evidence,
      fix: {
        summary: 'Make the instance private (the backends reach it inside the VPC).',
        commands: [aws(ctx.env, 'rds modify-db-instance', '--db-instance-identifier', sh(db.id), '--no-publicly-accessible --apply-immediately')],
      },
    };
  },
};

function instanceEvidence(db: DatabaseInstance): Evidence {
  return {
    instance: db.id,
    status: db.status,
    engine: db.engine && db.engineVersion ? `${db.engine} ${db.engineVersion}` : db.engine,
    endpoint: db.endpointAddress ? `${db.endpointAddress}:${db.endpointPort ?? '?'}` : null,
    masterUsername: db.masterUsername,
    pendingModifications: db.pendingModifications.length ? db.pendingModifications.join(', ') : 'none',
  };
}

function notFound(ctx: AwsCheckContext): Verdict {
  const id = ctx.env.rdsInstanceId;
  return {
    status: 'fail',
    summary: `No RDS instance named ${id} in ${ctx.env.region}`,
    evidence: { instance: id, region: ctx.env.region },
    fix: {
      summary: 'List the instances and set rdsInstanceId in the environments file to the LinkBox one.',
      commands: [aws(ctx.env, 'rds describe-db-instances', "--query 'DBInstances[].[DBInstanceIdentifier,DBInstanceStatus,Endpoint.Address]' --output table")],
    },
  };
}

function normaliseHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

export const RDS_CHECKS = [rdsStatusCheck, rdsEndpointMatchCheck, rdsUsernameMatchCheck, rdsPrivateCheck];
