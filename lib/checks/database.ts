import 'server-only';
import { parameterName } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { tryDatabaseLogin, type DatabaseLoginResult } from '@/lib/db/login';
import type { AwsCheckContext } from './context';
import { aws, rotationPage, sh } from './fixes';
import { PROBE_SHARE } from './network';
import type { CheckDefinition } from './run';
import type { CheckFix, Evidence } from './types';

// A login the way a backend logs in: the SSM credentials, then `SELECT version()`.

export const databaseLoginCheck: CheckDefinition<AwsCheckContext> = {
  id: 'db.login',
  kinds: ['aws'],
  async run(ctx) {
    const params = await ctx.parameters();
    const known = {
      username: params.parameters['db-username']?.value,
      dbName: params.parameters['db-name']?.value,
      endpoint: params.parameters['db-endpoint']?.value,
    };
    const result = await tryDatabaseLogin(ctx.env, { known, timeoutMs: Math.floor(ctx.budgetMs * PROBE_SHARE) });
    const evidence = loginEvidence(result);
    if (result.ok) {
      return { status: 'pass', summary: `Logged in as ${result.target?.user} to ${result.target?.database}; ${shortVersion(result.serverVersion)} answered in ${result.latencyMs} ms`, evidence };
    }
    const error = result.error!;
    if (error.stage === 'credentials') return { status: 'error', summary: `Could not check: ${error.message}`, evidence: { ...evidence, reason: error.code } };
    // The TCP probe got an answer (db.login depends on net.tcp), so a login that runs out of time says
    // nothing about the credentials: the server is slow, not the password wrong.
    if (error.code === 'timeout') {
      return { status: 'error', summary: `Could not check: the login to ${evidence.target ?? 'the database'} timed out (${error.message})`, evidence, fix: loginFix(ctx.env, result) };
    }
    return { status: 'fail', summary: loginFailureSummary(result), evidence, fix: loginFix(ctx.env, result) };
  },
};

export function loginEvidence(result: DatabaseLoginResult): Evidence {
  const t = result.target;
  const evidence: Evidence = { target: t ? `${t.user}@${t.host}:${t.port}/${t.database}` : null, serverVersion: result.serverVersion, latencyMs: result.latencyMs };
  if (result.error) {
    evidence.errorCode = result.error.code;
    evidence.error = result.error.message;
  }
  return evidence;
}

export function loginFailureSummary(result: DatabaseLoginResult): string {
  const e = result.error!;
  const who = result.target ? `${result.target.user}@${result.target.host}:${result.target.port}/${result.target.database}` : 'the database';
  switch (e.code) {
    case '28P01':
      return `Authentication failed for ${result.target?.user ?? 'the SSM user'}: the password in SSM is not the database's`;
    case '28000':
      return `The database refused ${result.target?.user ?? 'the user'}: ${e.message}`;
    case '3D000':
      return `The database "${result.target?.database}" does not exist on the server`;
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
