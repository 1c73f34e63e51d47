import 'server-only';
import { describeAwsError } from '@/lib/aws/errors';
import { parameterName } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { loginTargetFor, loginToDatabase, type DatabaseLoginResult } from '@/lib/db/login';
import { PROBE_SHARE, type AwsCheckContext } from './context';
import { aws, rotationPage, sh } from './fixes';
import type { CheckDefinition } from './run';
import type { CheckFix, Evidence } from './types';

// A login the way a backend logs in: the SSM credentials, then `SELECT version()`. The password is
// the run's one decrypted read (shared with db.backend-credentials), never kept beyond the run.

export const databaseLoginCheck: CheckDefinition<AwsCheckContext> = {
  id: 'db.login',
  kinds: ['aws'],
  async run(ctx, signal) {
    const { env } = ctx;
    const params = (await ctx.parameters()).parameters;
    const where = loginTargetFor(env, { user: params['db-username']?.value, database: params['db-name']?.value, endpoint: params['db-endpoint']?.value });
    if (!where.ok) {
      return { status: 'error', summary: `Could not check: ${where.missing.map((k) => parameterName(env, k)).join(', ')} has no value`, evidence: { reason: 'no-credentials' } };
    }
    const { target } = where;
    let password: string;
    try {
      password = await ctx.databasePassword();
    } catch (err) {
      const d = describeAwsError(err, { action: 'reading the database password from SSM' });
      return { status: 'error', summary: `Could not check: ${d.message}`, evidence: { reason: d.kind } };
    }
    const result = await loginToDatabase(target, password, { timeoutMs: Math.floor(ctx.budgetMs * PROBE_SHARE), signal });
    const evidence = loginEvidence(result);
    if (result.ok) {
      return { status: 'pass', summary: `Logged in as ${target.user} to ${target.database}; ${shortVersion(result.serverVersion)} answered in ${result.latencyMs} ms`, evidence };
    }
    // The TCP probe got an answer (db.login depends on net.tcp), so a login that runs out of time says
    // nothing about the credentials: the server is slow, not the password wrong.
    if (result.error!.code === 'timeout') {
      return { status: 'error', summary: `Could not check: the login to ${evidence.target} timed out (${result.error!.message})`, evidence, fix: loginFix(env, result) };
    }
    return { status: 'fail', summary: loginFailureSummary(result), evidence, fix: loginFix(env, result) };
  },
};

export function loginEvidence(result: DatabaseLoginResult): Evidence {
  const t = result.target;
  const evidence: Evidence = { target: `${t.user}@${t.host}:${t.port}/${t.database}`, serverVersion: result.serverVersion, latencyMs: result.latencyMs };
  if (result.error) {
    evidence.errorCode = result.error.code;
    evidence.error = result.error.message;
  }
  return evidence;
}

export function loginFailureSummary(result: DatabaseLoginResult): string {
  const e = result.error!;
  const t = result.target;
  const who = `${t.user}@${t.host}:${t.port}/${t.database}`;
  switch (e.code) {
    case '28P01':
      return `Authentication failed for ${t.user}: the password in SSM is not the database's`;
    case '28000':
      return `The database refused ${t.user}: ${e.message}`;
    case '3D000':
      return `The database "${t.database}" does not exist on the server`;
    case 'timeout':
      return `Login to ${who} timed out: ${e.message}`;
    default:
      return `Login to ${who} failed (${e.code}): ${e.message}`;
  }
}

function loginFix(env: AwsEnvironmentConfig, result: DatabaseLoginResult): CheckFix {
  const code = result.error?.code;
  if (code === '28P01' || code === '28000') {
    return {
      summary: `Rotate the password from the console (${rotationPage(env)}): it sets RDS and SSM to the same new password and restarts the backends. By hand, set both to the same value, then restart the backends.`,
      commands: [
        aws(env, 'rds modify-db-instance', '--db-instance-identifier', sh(env.rdsInstanceId), '--master-user-password "$NEW_PASSWORD" --apply-immediately'),
        aws(env, 'ssm put-parameter', '--name', parameterName(env, 'db-password'), '--type SecureString --value "$NEW_PASSWORD" --overwrite'),
      ],
    };
  }
  if (code === '3D000') {
    return {
      summary: 'Point db-name at the database RDS created (see DBName), then restart the backends.',
      commands: [
        aws(env, 'rds describe-db-instances', '--db-instance-identifier', sh(env.rdsInstanceId), "--query 'DBInstances[0].DBName' --output text"),
        aws(env, 'ssm put-parameter', '--name', parameterName(env, 'db-name'), '--type String --value <database-name> --overwrite'),
      ],
    };
  }
  return {
    summary: 'The server answered the TCP probe but not the login; check the instance\'s recent events.',
    commands: [aws(env, 'rds describe-events', '--source-type db-instance --source-identifier', sh(env.rdsInstanceId), '--duration 60')],
  };
}

export function shortVersion(v: string | null): string {
  if (!v) return 'the server';
  const m = /^PostgreSQL [\d.]+/.exec(v);
  return m ? m[0] : v.slice(0, 40);
}

export const DATABASE_CHECKS = [databaseLoginCheck];
