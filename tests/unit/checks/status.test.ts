import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { DescribeInstancesCommand, DescribeNetworkAclsCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { DescribeParametersCommand, GetParameterHistoryCommand, GetParametersCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { AuthorizationError } from '@/lib/roles';
import type { CheckId, CheckResult, EnvironmentStatus } from '@/lib/checks/types';
import { UnknownEnvironmentError } from '@/lib/config/load';
import { getEnvironmentStatus, rootCauseAmong, type StatusRun } from '@/lib/status';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import {
  answerRunCommand,
  awsError,
  closedPort,
  CONTAINER_STARTED,
  DB_ENDPOINT,
  decryptedPassword,
  dockerInspect,
  inspectOutput,
  ec2,
  healthyAws,
  healthyNetworkAcls,
  PASSWORD,
  PASSWORD_CHANGED,
  rds,
  ssm,
  startFakePostgres,
  startHealthServer,
  startSilentServer,
  startStallingPostgres,
  setTestConfig,
  VIEWER,
} from './support';

let pg: Awaited<ReturnType<typeof startFakePostgres>>;
let healthy: Awaited<ReturnType<typeof startHealthServer>>;
let sick: Awaited<ReturnType<typeof startHealthServer>>;

beforeAll(async () => {
  pg = await startFakePostgres(PASSWORD);
  healthy = await startHealthServer(200);
  sick = await startHealthServer(503);
});
afterAll(async () => {
  await Promise.all([pg.close(), healthy.close(), sick.close()]);
});

beforeEach(() => {
  healthyAws();
  setTestConfig({ dbPort: pg.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url } });
});

const status = (fresh = true) => getEnvironmentStatus(VIEWER, 'production', { fresh });
const check = (s: EnvironmentStatus, id: CheckId): CheckResult => {
  const found = s.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no ${id} in ${s.checks.map((c) => c.id).join(', ')}`);
  return found;
};
const statuses = (s: EnvironmentStatus) => Object.fromEntries(s.checks.map((c) => [c.id, c.status]));
const noVerdicts = (s: EnvironmentStatus) => s.checks.filter((c) => c.status === 'fail' || c.status === 'skip').map((c) => c.id);

describe('a healthy AWS environment', () => {
  it('passes every check, is healthy and has no root cause', async () => {
    const s = await status();
    expect(s.checks.map((c) => c.id).sort()).toEqual(
      [
        'ssm.parameters',
        'ssm.password-type',
        'ssm.password-age',
        'rds.status',
        'rds.endpoint-match',
        'rds.username-match',
        'rds.private',
        'sg.backend-ingress',
        'sg.no-public-ingress',
        'net.instance-security-groups',
        'net.network-acls',
        'net.tcp',
        'db.login',
        'db.backend-credentials',
        'containers.running',
        'containers.health',
        'containers.fresh-credentials',
      ].sort(),
    );
    expect(s.checks.filter((c) => c.status !== 'pass')).toEqual([]);
    expect(s).toMatchObject({ environment: 'production', kind: 'aws', overall: 'healthy', rootCause: null, stale: false });
  });

  it('shows the evidence an operator asks for, and never the password', async () => {
    const s = await status();
    expect(check(s, 'ssm.parameters').evidence).toMatchObject({
      'db-password.type': 'SecureString',
      'db-password.version': 3,
      'db-password.lastModified': PASSWORD_CHANGED.toISOString(),
      'db-password.lastModifiedBy': 'arn:aws:iam::123456789012:user/ops',
      'db-endpoint': DB_ENDPOINT,
    });
    expect(check(s, 'rds.status').evidence).toMatchObject({ status: 'available', engine: 'postgres 15.4', endpoint: `${DB_ENDPOINT}:5432`, pendingModifications: 'none' });
    expect(check(s, 'sg.backend-ingress').evidence.rulesOnDbPort).toBe('sg-db: tcp 5432 from sg-backend');
    expect(check(s, 'net.tcp').evidence).toMatchObject({ target: `127.0.0.1:${pg.port}`, outcome: 'answered' });
    expect(check(s, 'db.login').evidence.serverVersion).toContain('PostgreSQL 15.4');
    expect(String(check(s, 'containers.running').evidence['i-0001 (linkbox-backend-1)'])).toContain(`since ${CONTAINER_STARTED.toISOString()}`);
    expect(pg.passwordsSeen).toContain(PASSWORD);
    expect(JSON.stringify(s)).not.toContain(PASSWORD);
  });

  it('costs one call per AWS API, and reads SSM without decryption except for the login', async () => {
    await status();
    expect(ssm.commandCalls(GetParametersCommand, { WithDecryption: false })).toHaveLength(1);
    expect(ssm.commandCalls(DescribeParametersCommand)).toHaveLength(1);
    // The password alone, decrypted.
    expect(ssm.commandCalls(GetParametersCommand, { WithDecryption: true }).map((c) => c.args[0].input.Names)).toEqual([['/linkbox/db-password']]);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(1);
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('within the TTL costs no AWS call, and concurrent viewers share one fetch; fresh fetches again', async () => {
    await Promise.all(Array.from({ length: 8 }, () => status(false)));
    await status(false);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(1);
    await status(true);
    expect(rds.commandCalls(DescribeDBInstancesCommand)).toHaveLength(2);
  });
});

describe('could not check is error, never a verdict', () => {
  it('AccessDenied on GetParameters makes the SSM-dependent checks error, not fail or skip', async () => {
    ssm.on(GetParametersCommand).rejects(awsError('AccessDeniedException', 'User: arn:aws:sts::1:assumed-role/console is not authorized to perform: ssm:GetParameters'));
    const s = await status();
    for (const id of ['ssm.parameters', 'ssm.password-type', 'ssm.password-age', 'rds.endpoint-match', 'rds.username-match', 'db.login', 'containers.fresh-credentials'] as CheckId[]) {
      expect(check(s, id).status, id).toBe('error');
    }
    expect(check(s, 'ssm.parameters').evidence.reason).toBe('denied');
    expect(check(s, 'ssm.parameters').summary).toMatch(/^Could not check: .*not allowed/);
    expect(noVerdicts(s)).toEqual([]);
    expect(s.overall).toBe('degraded');
    expect(s.rootCause).toBeNull();
  });

  it('KMS refusing to decrypt makes db.login error with the KMS reason, and the rest still passes', async () => {
    ssm.on(GetParametersCommand, { WithDecryption: true }).rejects(awsError('AccessDeniedException', 'User is not authorized to perform: kms:Decrypt on the resource associated with this ciphertext'));
    const s = await status();
    expect(check(s, 'db.login')).toMatchObject({ status: 'error', evidence: { reason: 'kms-denied' } });
    expect(check(s, 'db.backend-credentials')).toMatchObject({ status: 'error', evidence: { reason: 'kms-denied' } });
    expect(check(s, 'db.login').summary).toContain('kms:Decrypt');
    expect(s.checks.filter((c) => c.status !== 'pass').map((c) => c.id)).toEqual(['db.login', 'db.backend-credentials']);
    // One decrypted read for the two checks that need the password.
    expect(ssm.commandCalls(GetParametersCommand, { WithDecryption: true })).toHaveLength(1);
    expect(s.overall).toBe('degraded');
  });

  it('throttled DescribeDBInstances makes the RDS checks error; the TCP probe still runs, and no login goes anywhere without RDS naming the host', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    const loginsBefore = pg.passwordsSeen.length;
    const s = await status();
    expect(statuses(s)).toMatchObject({ 'rds.status': 'error', 'rds.endpoint-match': 'error', 'rds.username-match': 'error', 'rds.private': 'error', 'net.tcp': 'pass', 'db.login': 'error' });
    expect(check(s, 'db.login').summary).toMatch(/^Could not check: .*Rate exceeded/);
    expect(pg.passwordsSeen.length).toBe(loginsBefore);
    expect(check(s, 'rds.status').evidence.reason).toBe('throttled');
    expect(check(s, 'net.tcp').evidence.unverifiedDependencies).toBe('rds.status');
    expect(s.rootCause).toBeNull();
  });

  it('an SDK timeout on DescribeSecurityGroups is error with the reason timeout', async () => {
    ec2.on(DescribeSecurityGroupsCommand).rejects(awsError('TimeoutError', 'Connection timed out after 2000 ms'));
    const s = await status();
    expect(check(s, 'sg.backend-ingress')).toMatchObject({ status: 'error', evidence: { reason: 'timeout' } });
    expect(check(s, 'sg.no-public-ingress').status).toBe('error');
  });

  it('a call that hangs costs its checks the time budget, not the page', async () => {
    setTestConfig({ dbPort: pg.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url }, checkTimeoutMs: 1000 });
    ec2.on(DescribeSecurityGroupsCommand).callsFake(() => new Promise(() => {}));
    const s = await status();
    expect(check(s, 'sg.backend-ingress')).toMatchObject({ status: 'error', evidence: { reason: 'timeout', budgetMs: 1000 } });
    expect(check(s, 'sg.no-public-ingress').status).toBe('error');
    expect(check(s, 'db.login').status).toBe('pass');
  });

  it('answers with missing fields make the checks that need them error', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({ DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: 'available' }] });
    ssm.on(GetParametersCommand).resolves({
      Parameters: ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((k) => ({ Name: `/linkbox/${k}`, Value: k === 'db-password' ? undefined : 'x' })),
    });
    const s = await status();
    expect(statuses(s)).toMatchObject({
      'rds.status': 'pass',
      'rds.endpoint-match': 'error',
      'rds.username-match': 'error',
      'rds.private': 'error',
      'ssm.password-type': 'error',
      'ssm.password-age': 'error',
      'containers.fresh-credentials': 'error',
    });
    expect(noVerdicts(s)).toEqual([]);
  });

  it('Run Command denied makes container state error, while /health is still probed directly', async () => {
    ssm.on(SendCommandCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ssm:SendCommand'));
    const s = await status();
    expect(statuses(s)).toMatchObject({ 'containers.running': 'error', 'containers.health': 'pass', 'containers.fresh-credentials': 'error' });
  });

  it('serves the last good status marked stale when nothing at all can be checked', async () => {
    // No reachVia: every probe needs an AWS answer first.
    setTestConfig({ dbPort: null, healthUrls: {}, cacheTtlSeconds: 0 });
    const first = await status(false);
    expect(first.stale).toBe(false);
    for (const m of [ssm, rds, ec2]) m.rejects(awsError('ThrottlingException', 'Rate exceeded'));
    const second = await status(false);
    expect(second.stale).toBe(true);
    expect(second.staleReason).toContain('throttling');
    expect(second.checkedAt).toBe(first.checkedAt);
  });
});

describe('verdicts and their fixes', () => {
  it('missing parameters fail ssm.parameters with put-parameter commands; its dependents skip', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [{ Name: '/linkbox/db-endpoint', Type: 'String', Value: DB_ENDPOINT, Version: 1, LastModifiedDate: PASSWORD_CHANGED }],
      InvalidParameters: ['/linkbox/db-username', '/linkbox/db-password', '/linkbox/db-name'],
    });
    const s = await status();
    const c = check(s, 'ssm.parameters');
    expect(c.status).toBe('fail');
    expect(c.fix?.commands).toContain(
      'aws ssm put-parameter --name /linkbox/db-password --type SecureString --value "$NEW_PASSWORD" --region us-east-1 --endpoint-url http://127.0.0.1:1',
    );
    expect(c.fix?.commands).toContain('aws ssm put-parameter --name /linkbox/db-username --type String --value linkbox --region us-east-1 --endpoint-url http://127.0.0.1:1');
    expect(statuses(s)).toMatchObject({ 'ssm.password-type': 'skip', 'ssm.password-age': 'skip', 'db.login': 'skip', 'rds.endpoint-match': 'skip' });
    expect(s.rootCause).toBe('ssm.parameters');
    expect(s.overall).toBe('broken');
  });

  it('a String password fails ssm.password-type, and its plain value never reaches the status', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: '/linkbox/db-endpoint', Type: 'String', Value: DB_ENDPOINT, Version: 1, LastModifiedDate: PASSWORD_CHANGED },
        { Name: '/linkbox/db-username', Type: 'String', Value: 'linkbox', Version: 1, LastModifiedDate: PASSWORD_CHANGED },
        { Name: '/linkbox/db-password', Type: 'String', Value: PASSWORD, Version: 4, LastModifiedDate: PASSWORD_CHANGED },
        { Name: '/linkbox/db-name', Type: 'String', Value: 'linkbox', Version: 1, LastModifiedDate: PASSWORD_CHANGED },
      ],
    });
    const s = await status();
    const c = check(s, 'ssm.password-type');
    expect(c).toMatchObject({ status: 'fail', evidence: { type: 'String' } });
    expect(c.fix?.commands?.join('\n')).toContain('--type SecureString --value "$DB_PASSWORD" --overwrite');
    expect(s.rootCause).toBe('ssm.password-type');
    expect(JSON.stringify(s)).not.toContain(PASSWORD);
  });

  it('a password older than the policy warns; a warning is no root cause', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((k) => ({
        Name: `/linkbox/${k}`,
        Type: k === 'db-password' ? 'SecureString' : 'String',
        Value: k === 'db-endpoint' ? DB_ENDPOINT : 'linkbox',
        Version: 2,
        LastModifiedDate: new Date(Date.now() - 200 * 86_400_000),
      })),
    });
    decryptedPassword({ Name: '/linkbox/db-password', Type: 'SecureString', Value: PASSWORD, Version: 2 });
    const s = await status();
    expect(check(s, 'ssm.password-age')).toMatchObject({ status: 'warn', evidence: { ageDays: 200, maxAgeDays: 90 } });
    expect(s.overall).toBe('degraded');
    expect(s.rootCause).toBeNull();
  });

  it('a stopped instance fails rds.status with start-db-instance; the network and login checks skip', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: 'stopped', Endpoint: { Address: DB_ENDPOINT, Port: 5432 }, MasterUsername: 'linkbox', PubliclyAccessible: false }],
    });
    const s = await status();
    expect(check(s, 'rds.status').fix?.commands).toEqual(['aws rds start-db-instance --db-instance-identifier linkbox-db --region us-east-1 --endpoint-url http://127.0.0.1:1']);
    expect(statuses(s)).toMatchObject({ 'rds.status': 'fail', 'net.tcp': 'skip', 'db.login': 'skip', 'rds.endpoint-match': 'skip', 'rds.private': 'skip' });
    expect(check(s, 'db.login').summary).toContain('net.tcp was skipped');
    expect(s.rootCause).toBe('rds.status');
  });

  it('warns while RDS is resetting credentials or has a password change pending', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: 'resetting-master-credentials', Endpoint: { Address: DB_ENDPOINT, Port: 5432 }, MasterUsername: 'linkbox', PubliclyAccessible: false }],
    });
    expect(check(await status(), 'rds.status').status).toBe('warn');
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: 'available', PendingModifiedValues: { MasterUserPassword: '****' }, Endpoint: { Address: DB_ENDPOINT, Port: 5432 }, MasterUsername: 'linkbox', PubliclyAccessible: false }],
    });
    const c = check(await status(), 'rds.status');
    expect(c).toMatchObject({ status: 'warn', evidence: { pendingModifications: 'MasterUserPassword' } });
  });

  it('a missing instance fails rds.status (a verdict, not "could not check")', async () => {
    rds.on(DescribeDBInstancesCommand).rejects(awsError('DBInstanceNotFoundFault', 'DBInstance linkbox-db not found.'));
    const s = await status();
    expect(check(s, 'rds.status').status).toBe('fail');
    expect(s.rootCause).toBe('rds.status');
  });

  it('a wrong endpoint in SSM fails rds.endpoint-match with the put-parameter of the real address', async () => {
    ssm.on(GetParametersCommand).resolves({
      Parameters: ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((k) => ({
        Name: `/linkbox/${k}`,
        Type: k === 'db-password' ? 'SecureString' : 'String',
        Value: k === 'db-endpoint' ? 'old-db.xyz.us-east-1.rds.amazonaws.com' : 'linkbox',
        Version: 2,
        LastModifiedDate: PASSWORD_CHANGED,
      })),
    });
    const s = await status();
    expect(check(s, 'rds.endpoint-match').fix?.commands).toEqual([
      `aws ssm put-parameter --name /linkbox/db-endpoint --type String --value ${DB_ENDPOINT} --overwrite --region us-east-1 --endpoint-url http://127.0.0.1:1`,
    ]);
    expect(s.rootCause).toBe('rds.endpoint-match');
  });

  it('a public instance fails rds.private', async () => {
    rds.on(DescribeDBInstancesCommand).resolves({
      DBInstances: [{ DBInstanceIdentifier: 'linkbox-db', DBInstanceStatus: 'available', Endpoint: { Address: DB_ENDPOINT, Port: 5432 }, MasterUsername: 'linkbox', PubliclyAccessible: true }],
    });
    const c = check(await status(), 'rds.private');
    expect(c.status).toBe('fail');
    expect(c.fix?.commands?.[0]).toContain('--no-publicly-accessible');
  });

  it('no rule from the backend group fails sg.backend-ingress with the exact authorize command', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        { GroupId: 'sg-db', GroupName: 'linkbox-db-sg', Tags: [{ Key: 'Name', Value: 'linkbox-db-sg' }], IpPermissions: [] },
        { GroupId: 'sg-backend', GroupName: 'linkbox-backend-sg', Tags: [{ Key: 'Name', Value: 'linkbox-backend-sg' }], IpPermissions: [] },
      ],
    });
    const s = await status();
    expect(check(s, 'sg.backend-ingress').fix?.commands).toEqual([
      'aws ec2 authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --source-group sg-backend --region us-east-1 --endpoint-url http://127.0.0.1:1',
    ]);
    expect(s.rootCause).toBe('sg.backend-ingress');
  });

  it('0.0.0.0/0 or ::/0 on the DB port fails sg.no-public-ingress with the revoke command', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        {
          GroupId: 'sg-db',
          Tags: [{ Key: 'Name', Value: 'linkbox-db-sg' }],
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, UserIdGroupPairs: [{ GroupId: 'sg-backend' }], IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
            { IpProtocol: '-1', Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
          ],
        },
        { GroupId: 'sg-backend', Tags: [{ Key: 'Name', Value: 'linkbox-backend-sg' }], IpPermissions: [] },
      ],
    });
    const s = await status();
    const c = check(s, 'sg.no-public-ingress');
    expect(c.status).toBe('fail');
    expect(c.fix?.commands).toEqual([
      "aws ec2 revoke-security-group-ingress --group-id sg-db --ip-permissions 'IpProtocol=tcp,FromPort=5432,ToPort=5432,IpRanges=[{CidrIp=0.0.0.0/0}]' --region us-east-1 --endpoint-url http://127.0.0.1:1",
      "aws ec2 revoke-security-group-ingress --group-id sg-db --ip-permissions 'IpProtocol=-1,Ipv6Ranges=[{CidrIpv6=::/0}]' --region us-east-1 --endpoint-url http://127.0.0.1:1",
    ]);
    expect(check(s, 'sg.backend-ingress').status).toBe('pass');
  });

  it('a database that accepts and never answers reads as timed out; refused reads as refused', async () => {
    const silent = await startSilentServer();
    try {
      setTestConfig({ dbPort: silent.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url }, checkTimeoutMs: 600 });
      const s = await status();
      expect(check(s, 'net.tcp')).toMatchObject({ status: 'fail', evidence: { outcome: 'no-answer' } });
      expect(check(s, 'net.tcp').summary).toMatch(/^Timed out/);
      expect(check(s, 'net.tcp').fix?.commands?.[1]).toContain('authorize-security-group-ingress --group-id sg-db');
      expect(check(s, 'db.login').status).toBe('skip');
      expect(s.rootCause).toBe('net.tcp');
    } finally {
      await silent.close();
    }
    setTestConfig({ dbPort: await closedPort(), healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url } });
    const s = await status();
    expect(check(s, 'net.tcp')).toMatchObject({ status: 'fail', evidence: { outcome: 'refused' } });
    expect(check(s, 'net.tcp').summary).toContain('Connection refused');
    expect(check(s, 'net.tcp').fix?.commands?.[0]).toContain('AWS-StartPortForwardingSessionToRemoteHost');
  });

  it('a server that answers the TCP probe but never the login leaves db.login "could not check", not failed', async () => {
    const stalling = await startStallingPostgres();
    try {
      setTestConfig({ dbPort: stalling.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url }, checkTimeoutMs: 800 });
      const s = await status();
      expect(check(s, 'net.tcp').status).toBe('pass');
      expect(check(s, 'db.login')).toMatchObject({ status: 'error', evidence: { errorCode: 'timeout' } });
      expect(check(s, 'db.login').summary).toMatch(/^Could not check: the login .* timed out/);
      expect(s.rootCause).toBeNull();
    } finally {
      await stalling.close();
    }
  });

  it('a password RDS does not accept fails db.login as authentication failed, without echoing it', async () => {
    decryptedPassword({ Name: '/linkbox/db-password', Value: 'Stale-Password-Not-Echoed' });
    const s = await status();
    const c = check(s, 'db.login');
    expect(c).toMatchObject({ status: 'fail', evidence: { errorCode: '28P01' } });
    expect(c.summary).toContain('Authentication failed for linkbox');
    expect(c.fix?.summary).toContain('/environments/production/rotate');
    expect(c.fix?.commands?.join('\n')).toContain('--master-user-password "$NEW_PASSWORD"');
    expect(JSON.stringify(s)).not.toContain('Stale-Password-Not-Echoed');
    expect(s.rootCause).toBe('db.login');
  });

  it('a crashed container fails containers.running with the restart command; health and freshness skip', async () => {
    answerRunCommand('i-0002', { Status: 'Success', stdout: dockerInspect('exited', CONTAINER_STARTED, { ExitCode: 137 }) });
    const s = await status();
    const c = check(s, 'containers.running');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0002: linkbox-backend is exited');
    expect(c.fix?.commands?.[0]).toMatch(/^aws ssm send-command --instance-ids i-0002 --document-name AWS-RunShellScript .*start_application\.sh/);
    expect(statuses(s)).toMatchObject({ 'containers.health': 'skip', 'containers.fresh-credentials': 'skip' });
    expect(s.rootCause).toBe('containers.running');
  });

  it('"No such object" from docker inspect is a missing container (a verdict)', async () => {
    answerRunCommand('i-0001', { Status: 'Success', stdout: inspectOutput('[]\nError: No such object: linkbox-backend', true) });
    expect(check(await status(), 'containers.running').status).toBe('fail');
  });

  it('a container started before the password changed to another value fails containers.fresh-credentials', async () => {
    startedBeforeTheChange();
    passwordHistory({ 2: 'the-previous-password', 3: PASSWORD });
    const s = await status();
    const c = check(s, 'containers.fresh-credentials');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0001 started with another password than the current one (version 3');
    expect(c.evidence['i-0001.password']).toBe('started with version 2; version 3 holds another value');
    expect(c.fix?.commands?.[0]).toContain('--instance-ids i-0001 ');
    expect(s.rootCause).toBe('containers.fresh-credentials');
    expect(JSON.stringify(s)).not.toContain('the-previous-password');
  });

  it('a backend answering 503 fails containers.health, and its body is shown with any password masked', async () => {
    setTestConfig({ dbPort: pg.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': sick.url } });
    const s = await status();
    const c = check(s, 'containers.health');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0002 answered 503');
    expect(JSON.stringify(c)).not.toContain('leaked-password');
  });
});

/** i-0001's container started a minute before db-password's version 3 was written. */
function startedBeforeTheChange() {
  answerRunCommand('i-0001', { Status: 'Success', stdout: dockerInspect('running', new Date(PASSWORD_CHANGED.getTime() - 60_000)) });
}

/** db-password's history (times: a day apart, ending at PASSWORD_CHANGED) and each version's value, decrypted by name:version. */
function passwordHistory(values: Record<number, string>) {
  const versions = Object.keys(values).map(Number).sort((a, b) => a - b);
  const when = (v: number) => new Date(PASSWORD_CHANGED.getTime() - (versions.at(-1)! - v) * 86_400_000);
  ssm.on(GetParameterHistoryCommand).resolves({ Parameters: versions.map((v) => ({ Name: '/linkbox/db-password', Type: 'SecureString', Version: v, LastModifiedDate: when(v) })) });
  ssm.on(GetParametersCommand, { WithDecryption: true }).callsFake((input: { Names: string[] }) => ({
    Parameters: input.Names.flatMap((n) => {
      // A name without a selector is its newest version (the login's read).
      const selector = n.split(':')[1];
      const v = selector === undefined ? versions.at(-1)! : Number(selector);
      return values[v] === undefined ? [] : [{ Name: '/linkbox/db-password', ...(selector ? { Selector: `:${v}` } : {}), Type: 'SecureString', Version: v, Value: values[v], LastModifiedDate: when(v) }];
    }),
    InvalidParameters: [],
  }));
}

const decryptingCalls = () => ssm.commandCalls(GetParametersCommand, { WithDecryption: true });
/** The decryptions of past versions (name:version), apart from the login's read of the current value. */
const fingerprintingCalls = () => decryptingCalls().filter((c) => c.args[0].input.Names!.some((n) => n.includes(':')));

describe('freshness by value: a container is stale only if the password it started with is not the current one', () => {
  it('passes a container started before a rewrite of the same value, and never shows either value', async () => {
    startedBeforeTheChange();
    passwordHistory({ 2: PASSWORD, 3: PASSWORD });
    const s = await status();
    const c = check(s, 'containers.fresh-credentials');
    expect(c).toMatchObject({ status: 'pass', evidence: { 'i-0001.password': 'started with version 2; version 3 holds the same value' } });
    expect(c.summary).toContain('i-0001 started before version 3 was written, but with the same value');
    expect(s).toMatchObject({ overall: 'healthy', rootCause: null });
    expect(JSON.stringify(s)).not.toContain(PASSWORD);
  });

  it('decrypts only the two versions it compares, once: a steady state costs no decryption and no history read', async () => {
    startedBeforeTheChange();
    passwordHistory({ 1: 'older', 2: PASSWORD, 3: PASSWORD });
    await status();
    expect(fingerprintingCalls().map((c) => [...c.args[0].input.Names!].sort())).toEqual([['/linkbox/db-password:2', '/linkbox/db-password:3']]);
    expect(ssm.commandCalls(GetParameterHistoryCommand)).toHaveLength(1);
    await status();
    await status();
    expect(fingerprintingCalls()).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterHistoryCommand)).toHaveLength(1);
  });

  it('reads no history at all while every container started after the last change', async () => {
    await status();
    expect(ssm.commandCalls(GetParameterHistoryCommand)).toHaveLength(0);
    expect(fingerprintingCalls()).toHaveLength(0);
  });

  it('calls a container stale that started before the oldest version SSM keeps', async () => {
    answerRunCommand('i-0001', { Status: 'Success', stdout: dockerInspect('running', new Date(PASSWORD_CHANGED.getTime() - 30 * 86_400_000)) });
    passwordHistory({ 2: PASSWORD, 3: PASSWORD });
    const c = check(await status(), 'containers.fresh-credentials');
    expect(c).toMatchObject({ status: 'fail', evidence: { 'i-0001.password': 'started before the oldest version SSM keeps, so before version 3' } });
  });

  it('says "could not check" when the history or a past version cannot be read, never stale', async () => {
    startedBeforeTheChange();
    ssm.on(GetParameterHistoryCommand).rejects(awsError('AccessDeniedException', 'not authorized to perform: ssm:GetParameterHistory'));
    expect(check(await status(), 'containers.fresh-credentials')).toMatchObject({ status: 'error', evidence: { reason: 'denied' } });
  });
});

describe('each backend\'s own path and credentials', () => {
  /** The tag the environment's selector names (EC2 answers only instances that carry it). */
  const BACKEND_TAGS = [{ Key: 'Role', Value: 'linkbox-backend' }];
  const instances = (secondGroups: string[]) =>
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-0001', State: { Name: 'running' }, PrivateIpAddress: '10.0.1.10', SubnetId: 'subnet-app-a', VpcId: 'vpc-1', SecurityGroups: [{ GroupId: 'sg-backend' }], Tags: BACKEND_TAGS },
            { InstanceId: 'i-0002', State: { Name: 'running' }, PrivateIpAddress: '10.0.2.11', SubnetId: 'subnet-app-b', VpcId: 'vpc-1', SecurityGroups: secondGroups.map((GroupId) => ({ GroupId })), Tags: BACKEND_TAGS },
          ],
        },
      ],
    });

  it('an instance moved out of the backend group fails net.instance-security-groups, naming it, with the command that puts it back', async () => {
    instances(['sg-other']);
    ec2.on(DescribeSecurityGroupsCommand, { GroupIds: ['sg-other'] }).resolves({ SecurityGroups: [{ GroupId: 'sg-other', GroupName: 'misc', VpcId: 'vpc-1', IpPermissions: [], IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] }] });
    const s = await status();
    const c = check(s, 'net.instance-security-groups');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0002: sg-db admits neither sg-other nor 10.0.2.11 on tcp 5432');
    expect(c.evidence).toMatchObject({ databaseRules: 'sg-db: tcp 5432 from sg-backend' });
    expect(c.fix?.commands).toEqual(['aws ec2 modify-instance-attribute --instance-id i-0002 --groups sg-other sg-backend --region us-east-1 --endpoint-url http://127.0.0.1:1']);
    expect(check(s, 'sg.backend-ingress').status).toBe('pass');
    expect(s.rootCause).toBe('net.instance-security-groups');
    // The configured groups came with the selector's query; only the stray one cost a second call.
    expect(ec2.commandCalls(DescribeSecurityGroupsCommand)).toHaveLength(2);
  });

  it('address rules that admit only some instances warn on sg.backend-ingress and fail the others per instance', async () => {
    ec2.on(DescribeSecurityGroupsCommand).resolves({
      SecurityGroups: [
        { GroupId: 'sg-db', GroupName: 'linkbox-db-sg', VpcId: 'vpc-1', Tags: [{ Key: 'Name', Value: 'linkbox-db-sg' }], IpPermissions: [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.0.1.10/32' }] }], IpPermissionsEgress: [] },
        { GroupId: 'sg-backend', GroupName: 'linkbox-backend-sg', VpcId: 'vpc-1', Tags: [{ Key: 'Name', Value: 'linkbox-backend-sg' }], IpPermissions: [], IpPermissionsEgress: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
      ],
    });
    const s = await status();
    expect(check(s, 'sg.backend-ingress')).toMatchObject({ status: 'warn', evidence: { admittedByAddressOnly: 'i-0001 (10.0.1.10)' } });
    const c = check(s, 'net.instance-security-groups');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0002');
    expect(c.summary).not.toContain('i-0001');
    expect(c.fix?.commands).toEqual(['aws ec2 authorize-security-group-ingress --group-id sg-db --protocol tcp --port 5432 --source-group sg-backend --region us-east-1 --endpoint-url http://127.0.0.1:1']);
    expect(s.rootCause).toBe('net.instance-security-groups');
  });

  it('a deny entry for one app subnet fails net.network-acls with the entry and the command that removes it', async () => {
    const acls = healthyNetworkAcls();
    acls[1]!.Entries.push({ RuleNumber: 90, Egress: false, Protocol: '6', RuleAction: 'deny', CidrBlock: '10.0.2.0/24', PortRange: { From: 5432, To: 5432 } });
    ec2.on(DescribeNetworkAclsCommand).resolves({ NetworkAcls: acls });
    const s = await status();
    const c = check(s, 'net.network-acls');
    expect(c.status).toBe('fail');
    expect(c.summary).toContain('i-0002 (linkbox-backend-2): the request into subnet-db-a (linkbox-db-a) is dropped by acl-db: port 5432 from 10.0.2.11: ingress rule 90 (deny tcp 5432 from 10.0.2.0/24)');
    expect(String(c.evidence['i-0001 (linkbox-backend-1)'])).toMatch(/^passes: /);
    expect(c.fix?.commands).toEqual(['aws ec2 delete-network-acl-entry --network-acl-id acl-db --ingress --rule-number 90 --region us-east-1 --endpoint-url http://127.0.0.1:1']);
    expect(s.rootCause).toBe('net.network-acls');
  });

  it('a DB subnet moved to an empty ACL fails net.network-acls with the association back to its siblings\' ACL', async () => {
    const acls = healthyNetworkAcls();
    acls[1]!.Associations = [{ NetworkAclAssociationId: 'aclassoc-db-b', SubnetId: 'subnet-db-b' }];
    acls.push({ NetworkAclId: 'acl-empty', VpcId: 'vpc-1', IsDefault: false, Associations: [{ NetworkAclAssociationId: 'aclassoc-new', SubnetId: 'subnet-db-a' }], Entries: [] });
    ec2.on(DescribeNetworkAclsCommand).resolves({ NetworkAcls: acls });
    const c = check(await status(), 'net.network-acls');
    expect(c.status).toBe('fail');
    expect(c.fix?.commands).toEqual(['aws ec2 replace-network-acl-association --association-id aclassoc-new --network-acl-id acl-db --region us-east-1 --endpoint-url http://127.0.0.1:1']);
  });

  it('a password RDS and SSM agree on but the backend decodes fails db.backend-credentials, while db.login passes', async () => {
    const encoded = 'Unit%41Only-7f3a9c';
    const db = await startFakePostgres(encoded);
    try {
      setTestConfig({ dbPort: db.port, healthUrls: { 'i-0001': healthy.url, 'i-0002': healthy.url } });
      decryptedPassword({ Name: '/linkbox/db-password', Type: 'SecureString', Value: encoded, Version: 3 });
      const s = await status();
      expect(check(s, 'db.login').status).toBe('pass');
      const c = check(s, 'db.backend-credentials');
      expect(c.status).toBe('fail');
      expect(c.summary).toContain('another password than /linkbox/db-password holds: /linkbox/db-password holds a percent sign followed by two hex digits (%XX)');
      expect(c.evidence).toMatchObject({ backendSends: 'user linkbox, password differs from SSM, host ' + DB_ENDPOINT + ', port 5432, database linkbox', 'psql $DATABASE_URL': expect.stringContaining('sends the same as the backend') });
      expect(c.fix?.summary).toContain('/environments/production/rotate');
      expect(s.rootCause).toBe('db.backend-credentials');
      expect(JSON.stringify(s)).not.toContain(encoded);
      expect(JSON.stringify(s)).not.toContain('UnitAOnly');
    } finally {
      await db.close();
    }
  });
});

describe('who may look', () => {
  it('refuses a caller who is not signed in', async () => {
    await expect(getEnvironmentStatus(null, 'production')).rejects.toBeInstanceOf(AuthorizationError);
  });

  it('names an unknown environment', async () => {
    await expect(getEnvironmentStatus(VIEWER, 'staging')).rejects.toBeInstanceOf(UnknownEnvironmentError);
  });
});

describe('container state, cached longer than the status', () => {
  it('is read once a minute across statuses, but a report that could not be read is asked again', async () => {
    await status(false);
    const { invalidateCache } = await import('@/lib/aws/cache');
    invalidateCache('status:');
    await status(false);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);

    invalidateCache();
    answerRunCommand('i-0002', { Status: 'Success', stdout: inspectOutput('Cannot connect to the Docker daemon', true) });
    expect(check(await status(false), 'containers.running').status).toBe('error');
    invalidateCache('status:');
    await status(false);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(3);
  });

  it('is read again once the password has a new version, so a rotation never leaves a stale started-at', async () => {
    await status(false);
    const { invalidateCache } = await import('@/lib/aws/cache');
    // The status and the parameters outlived their TTL; the container state (60 s) did not.
    invalidateCache('status:');
    invalidateCache('parameters|');
    const rotated = new Date();
    ssm.on(GetParametersCommand).resolves({
      Parameters: [
        { Name: '/linkbox/db-endpoint', Type: 'String', Value: DB_ENDPOINT, Version: 3, LastModifiedDate: PASSWORD_CHANGED },
        { Name: '/linkbox/db-username', Type: 'String', Value: 'linkbox', Version: 3, LastModifiedDate: PASSWORD_CHANGED },
        { Name: '/linkbox/db-password', Type: 'SecureString', Value: 'AQICAHciphertext==', Version: 4, LastModifiedDate: rotated },
        { Name: '/linkbox/db-name', Type: 'String', Value: 'linkbox', Version: 3, LastModifiedDate: PASSWORD_CHANGED },
      ],
      InvalidParameters: [],
    });
    await status(false);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(2);
  });

  it('is dropped by clearing the environment prefix, as the rolling restart does after each instance', async () => {
    await status(false);
    const { invalidateCache } = await import('@/lib/aws/cache');
    const { invalidateContainerStates } = await import('@/lib/aws/readers');
    const { getEnvironment } = await import('@/lib/config/load');
    invalidateCache('status:');
    invalidateContainerStates(getEnvironment('production') as AwsEnvironmentConfig);
    await status(false);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(2);
  });
});

describe('the one decrypted read of a run', () => {
  it('is shared by the checks of a run and forgotten once the run has settled', async () => {
    const { createAwsContext } = await import('@/lib/checks/context');
    const { runChecks } = await import('@/lib/checks/run');
    const { getEnvironment } = await import('@/lib/config/load');
    const ctx = createAwsContext(getEnvironment('production') as AwsEnvironmentConfig, { budgetMs: 1000, ttlMs: 0, fresh: true });
    const reader = (id: CheckId) => ({ id, kinds: ['aws' as const], run: async () => ({ status: 'pass' as const, summary: (await ctx.databasePassword()).length > 0 ? 'read' : '', evidence: {} }) });
    await runChecks([reader('db.login'), reader('db.backend-credentials')], ctx, { dependencies: () => [] }).all;
    expect(decryptingCalls()).toHaveLength(1);
    await runChecks([reader('db.login')], ctx, { dependencies: () => [] }).all;
    expect(decryptingCalls()).toHaveLength(2);
  });
});

describe('rootCauseAmong: a panel of the page marks its root cause as soon as that is certain', () => {
  const settled = (id: CheckId, status: CheckResult['status']) => Promise.resolve<CheckResult>({ id, status, summary: `${id} ${status}`, evidence: {} });
  const runOf = (entries: Array<[CheckId, Promise<CheckResult>]>) => ({ results: new Map(entries) }) as unknown as StatusRun;
  const never = new Promise<CheckResult>(() => {});

  it('names a failing check of the panel once every check before it has settled, without waiting for the later ones', async () => {
    const run = runOf([
      ['ssm.parameters', settled('ssm.parameters', 'pass')],
      ['rds.status', settled('rds.status', 'error')],
      ['sg.backend-ingress', settled('sg.backend-ingress', 'fail')],
      ['containers.running', never],
    ]);
    await expect(rootCauseAmong(run, ['sg.backend-ingress', 'sg.no-public-ingress'])).resolves.toBe('sg.backend-ingress');
  });

  it('is null when an earlier check in another panel fails, and for a panel with nothing failing', async () => {
    const run = runOf([
      ['rds.status', settled('rds.status', 'fail')],
      ['sg.backend-ingress', settled('sg.backend-ingress', 'fail')],
      ['ssm.parameters', settled('ssm.parameters', 'pass')],
      ['containers.running', never],
    ]);
    await expect(rootCauseAmong(run, ['sg.backend-ingress'])).resolves.toBeNull();
    await expect(rootCauseAmong(run, ['rds.status'])).resolves.toBe('rds.status');
    await expect(rootCauseAmong(run, ['ssm.parameters'])).resolves.toBeNull();
  });
});
