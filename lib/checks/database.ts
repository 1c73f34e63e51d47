import 'server-only';
import { parameterName } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { isTlsError, loginTargetFor, loginToDatabase, type DatabaseLoginResult, type DatabaseTarget, type TlsErrorCode } from '@/lib/db/login';
import { passwordOrCouldNotCheck, PROBE_SHARE, type AwsCheckContext } from './context';
import { aws, rotationPage, sh } from './fixes';
import type { CheckDefinition } from './run';
import type { CheckFix, Evidence } from './types';

// A login the way a backend logs in: the SSM credentials, then `SELECT version()`, at the endpoint RDS
// reports (never the SSM db-endpoint; db.login waits for rds.endpoint-match), over verified TLS. The
// password is the run's one decrypted read (shared with db.backend-credentials), never kept beyond the run.

export const databaseLoginCheck: CheckDefinition<AwsCheckContext> = {
  id: 'db.login',
  kinds: ['aws'],
  async run(ctx, signal) {
    const { env } = ctx;
    const [params, db] = await Promise.all([ctx.parameters().then((p) => p.parameters), ctx.dbInstance()]);
    const where = loginTargetFor(env, {
      user: params['db-username']?.value,
      database: params['db-name']?.value,
      rdsEndpoint: db && { address: db.endpointAddress, port: db.endpointPort },
    });
    if (!where.ok) {
      const what = where.missing.map((k) => (k === 'rds-endpoint' ? `RDS reports no endpoint for ${env.rdsInstanceId}` : `${parameterName(env, k)} has no value`));
      return { status: 'error', summary: `Could not check: ${what.join('; ')}`, evidence: { reason: where.missing.includes('rds-endpoint') ? 'no-endpoint' : 'no-credentials' } };
    }
    const { target } = where;
    const read = await passwordOrCouldNotCheck(ctx);
    if ('verdict' in read) return read.verdict;
    const { password } = read;
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
    if (result.error!.code === 'tls-ca-unreadable') {
      return { status: 'error', summary: `Could not check: ${result.error!.message}`, evidence, fix: loginFix(env, result) };
    }
    return { status: 'fail', summary: loginFailureSummary(result), evidence, fix: loginFix(env, result) };
  },
};

export function loginEvidence(result: DatabaseLoginResult): Evidence {
  const t = result.target;
  const evidence: Evidence = { target: `${t.user}@${t.host}:${t.port}/${t.database}`, serverVersion: result.serverVersion, latencyMs: result.latencyMs };
  if (t.transport.kind === 'verified-tls') evidence.tls = `verified as ${t.transport.serverName} against ${t.transport.caBundle}`;
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
    case 'tls-untrusted':
    case 'tls-wrong-name':
    case 'tls-expired':
    case 'tls-refused':
    case 'tls-failed':
      return `The server at ${t.host}:${t.port} did not prove it is ${serverNameOf(t)} (${TLS_REASONS[e.code]}: ${e.message}); no password was sent`;
    default:
      return `Login to ${who} failed (${e.code}): ${e.message}`;
  }
}

const TLS_REASONS: Record<Exclude<TlsErrorCode, 'tls-ca-unreadable'>, string> = {
  'tls-untrusted': 'its certificate is not signed by a CA in the configured bundle',
  'tls-wrong-name': 'its certificate is for another name',
  'tls-expired': 'its certificate is expired or not yet valid',
  'tls-refused': 'it does not offer TLS',
  'tls-failed': 'the TLS handshake failed',
};

function serverNameOf(t: DatabaseTarget): string {
  return t.transport.kind === 'verified-tls' ? t.transport.serverName : t.host;
}

function loginFix(env: AwsEnvironmentConfig, result: DatabaseLoginResult): CheckFix {
  const code = result.error?.code;
  if (isTlsError(code)) {
    return {
      summary: `Check that dbCaBundle in the console config ("${env.dbCaBundle}") holds the CA of the instance's certificate, and which CA RDS gave the instance. A certificate from another CA or for another name means the connection does not reach ${env.rdsInstanceId}${env.reachVia ? ': check where the tunnel leads' : ''}.`,
      commands: [aws(env, 'rds describe-db-instances', '--db-instance-identifier', sh(env.rdsInstanceId), "--query 'DBInstances[0].[Endpoint.Address,CACertificateIdentifier]'")],
    };
  }
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
