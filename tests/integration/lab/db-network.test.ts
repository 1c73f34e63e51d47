import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand, EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient, RebootDBInstanceCommand, StartDBInstanceCommand, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInstanceState } from '@/infra/lab/contract';
import { awsCli, eventually, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// The network in front of the RDS endpoint: security group ingress as EC2 reports it decides who
// gets through (blocked hangs), and a stopped or rebooting instance refuses connections.

let lab: TestLab;
let ec2: EC2Client;
let rds: RDSClient;
let password: string;
let dbGroupId: string;
let backendGroupId: string;

const dbPortRule = (extra: object) => [{ IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, ...extra }];

beforeAll(async () => {
  lab = await startTestLab();
  const config = { region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  ec2 = new EC2Client(config);
  rds = new RDSClient(config);
  const ssm = new SSMClient(config);
  password = (await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-password', WithDecryption: true }))).Parameter!.Value!;
  ssm.destroy();
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:Name', Values: ['linkbox-db-sg', 'linkbox-backend-sg'] }] }));
  const byName = (n: string) => groups.SecurityGroups!.find((g) => g.Tags?.some((t) => t.Key === 'Name' && t.Value === n))!.GroupId!;
  dbGroupId = byName('linkbox-db-sg');
  backendGroupId = byName('linkbox-backend-sg');
});
afterAll(() => {
  ec2?.destroy();
  rds?.destroy();
});

const login = () => tryDbLogin(lab, password, { noAnswerAfterMs: 1500 });
const loginBecomes = (outcome: string, what: string) => eventually(async () => ((await login()) === outcome ? outcome : undefined), what);
const status = async () => (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }))).DBInstances![0]!.DBInstanceStatus;

/** Revokes every ingress rule of the DB group exactly as EC2 describes it. */
async function clearIngress(): Promise<void> {
  const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [dbGroupId] }));
  const permissions = groups.SecurityGroups![0]!.IpPermissions ?? [];
  if (permissions.length > 0) await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: permissions }));
}

async function openSession(): Promise<pg.Client> {
  const client = new pg.Client({ host: lab.db.host, port: lab.db.port, user: 'linkbox', password, database: 'linkbox' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

describe('the DB network', () => {
  it('admits the tunnel, which carries the first backend instance\'s security group', async () => {
    expect(await login()).toBe('ok');
  });

  it('stops answering new connections once the backend group is revoked, while an open session keeps working', async () => {
    const session = await openSession();
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: dbPortRule({ UserIdGroupPairs: [{ GroupId: backendGroupId }] }) }));
    await loginBecomes('no-answer', 'the revoked rule to block new connections');
    expect((await session.query('SELECT 2 AS n')).rows).toEqual([{ n: 2 }]);
    await session.end();
  });

  it('admits by CIDR only the subnet that holds the source\'s private IP', async () => {
    const [carrier, other] = lab.instances as [LabInstanceState, LabInstanceState];
    expect(carrier.privateIp).toMatch(/^10\.0\.1\./);
    expect(other.privateIp).toMatch(/^10\.0\.2\./);
    const asOther = () => tryDbLogin(lab, password, { route: other.dbRoute, noAnswerAfterMs: 1500 });
    expect(await asOther()).toBe('no-answer');

    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: dbPortRule({ IpRanges: [{ CidrIp: '10.0.2.0/24' }] }) }));
    // Once the network has read EC2 again, the rule is in force: the instance in 10.0.2.0/24 gets
    // through (so the rule was read), and the carrier, in 10.0.1.0/24, still does not.
    await lab.networkSynced();
    expect(await asOther()).toBe('ok');
    expect(await login()).toBe('no-answer');

    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: dbPortRule({ IpRanges: [{ CidrIp: '10.0.1.0/24' }] }) }));
    await loginBecomes('ok', 'the CIDR rule for the carrier\'s subnet to admit the tunnel');
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: dbPortRule({ IpRanges: [{ CidrIp: '10.0.1.0/24' }, { CidrIp: '10.0.2.0/24' }] }) }));
    await loginBecomes('no-answer', 'the CIDR rules to be gone');
  });

  it('revokes a group rule someone added with a description by the group alone, as AWS does', async () => {
    await clearIngress();
    const add = await awsCli(lab, [
      'ec2', 'authorize-security-group-ingress', '--group-id', dbGroupId,
      '--ip-permissions', `IpProtocol=tcp,FromPort=5432,ToPort=5432,UserIdGroupPairs=[{GroupId=${backendGroupId},Description=backend-app}]`,
    ]);
    expect(add.code, add.stderr).toBe(0);
    await loginBecomes('ok', 'the described rule to admit the tunnel');

    const revoke = await awsCli(lab, ['ec2', 'revoke-security-group-ingress', '--group-id', dbGroupId, '--protocol', 'tcp', '--port', '5432', '--source-group', backendGroupId]);
    expect(revoke.code, revoke.stderr).toBe(0);
    const groups = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [dbGroupId] }));
    expect(groups.SecurityGroups![0]!.IpPermissions).toEqual([]);
    await loginBecomes('no-answer', 'the revoke to block the tunnel');

    const again = await awsCli(lab, ['ec2', 'revoke-security-group-ingress', '--group-id', dbGroupId, '--protocol', 'tcp', '--port', '5432', '--source-group', backendGroupId]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('InvalidPermission.NotFound');
  });

  it('admits the tunnel again once the backend group is re-authorised', async () => {
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId: dbGroupId, IpPermissions: dbPortRule({ UserIdGroupPairs: [{ GroupId: backendGroupId }] }) }));
    await loginBecomes('ok', 're-authorised ingress to admit the tunnel');
  });

  it('refuses connections while linkbox-db is stopped and drops open sessions; start brings it back', async () => {
    const session = await openSession();
    await rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db' }));
    expect(await status()).toBe('stopped');
    expect(await login()).toBe('refused');
    await expect(session.query('SELECT 1')).rejects.toThrow();

    await rds.send(new StartDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db' }));
    expect(await status()).toBe('available');
    expect(await login()).toBe('ok');
  });

  it('drops open sessions when linkbox-db reboots, then admits connections again', async () => {
    const session = await openSession();
    const reply = await rds.send(new RebootDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db' }));
    expect(reply.DBInstance?.DBInstanceStatus).toBe('rebooting');
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await eventually(async () => ((await status()) === 'available' ? true : undefined), 'the reboot to finish');
    await loginBecomes('ok', 'connections after the reboot');
  });
});

describe('the local world', () => {
  it('is the docker-compose database: linkbox_user / linkbox_password on linkbox_dev, at the DATABASE_URL the .env holds', async () => {
    const url = new URL(lab.local.databaseUrl);
    expect(url.username).toBe('linkbox_user');
    expect(url.pathname).toBe('/linkbox_dev');
    expect(await tryDbLogin(lab, 'linkbox_password', { user: 'linkbox_user', database: 'linkbox_dev', route: { host: url.hostname, port: Number(url.port) } })).toBe('ok');
    expect(await tryDbLogin(lab, 'wrong-password', { user: 'linkbox_user', database: 'linkbox_dev', route: { host: url.hostname, port: Number(url.port) } })).toBe('auth-failed');
  });
});
