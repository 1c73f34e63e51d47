import { CreateSecurityGroupCommand, DescribeInstancesCommand, DescribeNetworkAclsCommand, DescribeNetworkInterfacesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeDBInstancesCommand, RDSClient } from '@aws-sdk/client-rds';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabInstanceState } from '@/infra/lab/contract';
import { cidrContains } from '@/infra/lab/network/ingress';
import { awsCli, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// Faults where one backend's own view differs from the rest: its own security groups, its subnet's
// network ACL, the DB subnet's ACL for its subnet alone. Each is caused with the AWS CLI, the way an
// operator (or a bad deploy) causes it, and each is undone the same way. The DB network re-reads EC2
// every sync; `lab.networkSynced()` waits for a read that began after the change.

let lab: TestLab;
let ec2: EC2Client;
let password: string;
let a: LabInstanceState; // 10.0.1.0/24, also the tunnel's carrier
let b: LabInstanceState; // 10.0.2.0/24

beforeAll(async () => {
  lab = await startTestLab();
  const config = { region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  ec2 = new EC2Client(config);
  const ssm = new SSMClient(config);
  password = (await ssm.send(new GetParameterCommand({ Name: '/linkbox/db-password', WithDecryption: true }))).Parameter!.Value!;
  ssm.destroy();
  [a, b] = lab.instances as [LabInstanceState, LabInstanceState];
});
afterAll(() => ec2?.destroy());

async function cli(args: string[]): Promise<unknown> {
  const run = await awsCli(lab, args);
  expect(run.code, `aws ${args.join(' ')}: ${run.stderr}`).toBe(0);
  return run.stdout.trim() ? JSON.parse(run.stdout) : undefined;
}

/** A connection to the DB from `instance` (as its backend makes one): 'ok', or 'no-answer' when dropped. */
const loginFrom = (instance: LabInstanceState) => tryDbLogin(lab, password, { route: instance.dbRoute, noAnswerAfterMs: 1500 });

async function health(instance: LabInstanceState): Promise<{ status: number; error?: string }> {
  const res = await fetch(instance.healthUrl, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { error?: string };
  return { status: res.status, error: body.error };
}

/** Both backends after the network has read EC2 again: each one's DB connection and /health. */
async function afterSync(): Promise<{ a: string; b: string }> {
  await lab.networkSynced();
  const [la, lb] = await Promise.all([loginFrom(a), loginFrom(b)]);
  return { a: la, b: lb };
}

async function expectHealth(instance: LabInstanceState, healthy: boolean): Promise<void> {
  const h = await health(instance);
  if (healthy) expect(h).toEqual({ status: 200, error: undefined });
  else {
    expect(h.status).toBe(503);
    expect(h.error).toMatch(/timeout expired/); // a hang, not a refusal or a login failure
  }
}

describe('the seeded VPC, as a console finds it through the AWS APIs', () => {
  it('puts the backends in app subnets and linkbox-db in its DB subnet group, each tier behind its own network ACL', async () => {
    const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [a.id, b.id] }));
    const placed = Object.fromEntries(Reservations!.flatMap((r) => r.Instances!).map((i) => [i.InstanceId!, [i.SubnetId, i.PrivateIpAddress]]));
    expect(placed).toEqual({ [a.id]: [a.subnetId, a.privateIp], [b.id]: [b.subnetId, b.privateIp] });
    expect(lab.vpc.appSubnets.map((s) => s.id)).toEqual([a.subnetId, b.subnetId]);

    const rds = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const db = (await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }))).DBInstances![0]!;
    rds.destroy();
    expect(db.DBSubnetGroup?.Subnets?.map((s) => s.SubnetIdentifier).sort()).toEqual([...lab.rds.subnetIds].sort());
    expect(lab.vpc.dbSubnets.map((s) => s.id).sort()).toEqual([...lab.rds.subnetIds].sort());

    const { NetworkInterfaces } = await ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'description', Values: ['RDSNetworkInterface'] }] }));
    expect(NetworkInterfaces!.map((n) => [n.SubnetId, n.PrivateIpAddress, n.AvailabilityZone])).toEqual([[lab.rds.subnetId, lab.rds.privateIp, db.AvailabilityZone]]);
    expect(cidrContains(lab.vpc.dbSubnets.find((s) => s.id === lab.rds.subnetId)!.cidr, lab.rds.privateIp)).toBe(true);

    const { NetworkAcls } = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [lab.vpc.id] }] }));
    const aclOf = (subnetId: string) => NetworkAcls!.find((acl) => acl.Associations?.some((x) => x.SubnetId === subnetId))?.NetworkAclId;
    expect(lab.vpc.appSubnets.map((s) => aclOf(s.id))).toEqual([lab.vpc.appNetworkAclId, lab.vpc.appNetworkAclId]);
    expect(lab.vpc.dbSubnets.map((s) => aclOf(s.id))).toEqual([lab.vpc.dbNetworkAclId, lab.vpc.dbNetworkAclId]);
    expect(NetworkAcls!.find((acl) => acl.IsDefault)?.NetworkAclId).toBe(lab.vpc.defaultNetworkAclId);

    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
    await Promise.all([expectHealth(a, true), expectHealth(b, true)]);
  });
});

describe('per-instance security groups', () => {
  it('drops the connections of a backend moved to another security group, and only that one; moving it back heals it', async () => {
    const { GroupId: otherGroup } = await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'linkbox-misc-sg', Description: 'some other group', VpcId: lab.vpc.id }));
    await cli(['ec2', 'modify-instance-attribute', '--instance-id', b.id, '--groups', otherGroup!]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'no-answer' });
    await Promise.all([expectHealth(a, true), expectHealth(b, false)]);
    expect(lab.logLines.join('\n')).toContain(`dropping connections from ${b.id}: the DB's security groups do not admit its groups (${otherGroup})`);

    await cli(['ec2', 'modify-instance-attribute', '--instance-id', b.id, '--groups', lab.vpc.backendSecurityGroupId]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
    await expectHealth(b, true);
  });

  it('admits by a CIDR only the instance whose private IP it covers', async () => {
    const dbGroup = lab.vpc.dbSecurityGroupId;
    await cli(['ec2', 'authorize-security-group-ingress', '--group-id', dbGroup, '--protocol', 'tcp', '--port', '5432', '--cidr', `${a.privateIp}/32`]);
    await cli(['ec2', 'revoke-security-group-ingress', '--group-id', dbGroup, '--protocol', 'tcp', '--port', '5432', '--source-group', lab.vpc.backendSecurityGroupId]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'no-answer' });
    await expectHealth(b, false);

    await cli(['ec2', 'authorize-security-group-ingress', '--group-id', dbGroup, '--protocol', 'tcp', '--port', '5432', '--source-group', lab.vpc.backendSecurityGroupId]);
    await cli(['ec2', 'revoke-security-group-ingress', '--group-id', dbGroup, '--protocol', 'tcp', '--port', '5432', '--cidr', `${a.privateIp}/32`]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
  });
});

describe('network ACLs, enforced statelessly', () => {
  const appB = () => lab.vpc.appSubnets[1]!.cidr;

  it('a deny rule numbered before the allow, on the DB subnets\' ACL, cuts off one app subnet; deleting it heals', async () => {
    await cli([
      'ec2', 'create-network-acl-entry', '--network-acl-id', lab.vpc.dbNetworkAclId, '--ingress', '--rule-number', '90',
      '--protocol', 'tcp', '--port-range', 'From=5432,To=5432', '--cidr-block', appB(), '--rule-action', 'deny',
    ]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'no-answer' });
    await Promise.all([expectHealth(a, true), expectHealth(b, false)]);
    expect(lab.logLines.join('\n')).toContain(`network ACL ${lab.vpc.dbNetworkAclId} of ${lab.rds.subnetId} drops the request (ingress rule 90)`);

    await cli(['ec2', 'delete-network-acl-entry', '--network-acl-id', lab.vpc.dbNetworkAclId, '--ingress', '--rule-number', '90']);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
  });

  it('replacing the allow rule with a deny does the same', async () => {
    await cli([
      'ec2', 'replace-network-acl-entry', '--network-acl-id', lab.vpc.dbNetworkAclId, '--ingress', '--rule-number', '101',
      '--protocol', 'tcp', '--port-range', 'From=5432,To=5432', '--cidr-block', appB(), '--rule-action', 'deny',
    ]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'no-answer' });
    await cli([
      'ec2', 'replace-network-acl-entry', '--network-acl-id', lab.vpc.dbNetworkAclId, '--ingress', '--rule-number', '101',
      '--protocol', 'tcp', '--port-range', 'From=5432,To=5432', '--cidr-block', appB(), '--rule-action', 'allow',
    ]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
  });

  it('the reply path counts too: without the DB ACL\'s ephemeral egress rule, or with one that stops below Linux\'s ephemeral ports, the SYN-ACK is dropped and connections hang', async () => {
    await cli(['ec2', 'delete-network-acl-entry', '--network-acl-id', lab.vpc.dbNetworkAclId, '--egress', '--rule-number', '100']);
    expect(await afterSync()).toEqual({ a: 'no-answer', b: 'ok' });
    await expectHealth(a, false);
    expect(lab.logLines.join('\n')).toContain(`network ACL ${lab.vpc.dbNetworkAclId} of ${lab.rds.subnetId} drops the reply (egress rule *)`);

    const egressTo = (ports: string) => [
      '--network-acl-id', lab.vpc.dbNetworkAclId, '--egress', '--rule-number', '100',
      '--protocol', 'tcp', '--port-range', ports, '--cidr-block', lab.vpc.appSubnets[0]!.cidr, '--rule-action', 'allow',
    ];
    // The backend's Linux picks its source port from 32768-60999: a rule for 1024-32767 misses it.
    await cli(['ec2', 'create-network-acl-entry', ...egressTo('From=1024,To=32767')]);
    expect(await afterSync()).toEqual({ a: 'no-answer', b: 'ok' });

    await cli(['ec2', 'replace-network-acl-entry', ...egressTo('From=1024,To=65535')]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
    await expectHealth(a, true);
  });

  it('moving an app subnet to an ACL that denies everything cuts off its backend; moving it back heals', async () => {
    const { NetworkAcl } = (await cli(['ec2', 'create-network-acl', '--vpc-id', lab.vpc.id])) as { NetworkAcl: { NetworkAclId: string } };
    const associationOf = async (subnetId: string) => {
      const { NetworkAcls } = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'association.subnet-id', Values: [subnetId] }] }));
      return NetworkAcls![0]!.Associations!.find((x) => x.SubnetId === subnetId)!.NetworkAclAssociationId!;
    };
    const moved = (await cli(['ec2', 'replace-network-acl-association', '--association-id', await associationOf(b.subnetId), '--network-acl-id', NetworkAcl.NetworkAclId])) as { NewAssociationId: string };
    expect(moved.NewAssociationId).toMatch(/^aclassoc-/);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'no-answer' });
    await expectHealth(b, false);
    expect(lab.logLines.join('\n')).toContain(`network ACL ${NetworkAcl.NetworkAclId} of ${b.subnetId} drops the request (egress rule *)`);

    await cli(['ec2', 'replace-network-acl-association', '--association-id', await associationOf(b.subnetId), '--network-acl-id', lab.vpc.appNetworkAclId]);
    expect(await afterSync()).toEqual({ a: 'ok', b: 'ok' });
    await expectHealth(b, true);
  });

  it('an open session stalls while an ACL drops its packets and carries on once they pass again: network ACLs are stateless, unlike security groups', async () => {
    const session = new pg.Client({ ...b.dbRoute, user: lab.rds.masterUsername, password, database: lab.rds.dbName });
    session.on('error', () => undefined);
    await session.connect();
    try {
      await cli([
        'ec2', 'create-network-acl-entry', '--network-acl-id', lab.vpc.appNetworkAclId, '--egress', '--rule-number', '50',
        '--protocol', '-1', '--cidr-block', '0.0.0.0/0', '--rule-action', 'deny',
      ]);
      await lab.networkSynced();
      const answer = session.query('SELECT 7 AS n');
      const outcome = await Promise.race([answer.then(() => 'answered'), new Promise((r) => setTimeout(() => r('stalled'), 1000))]);
      expect(outcome).toBe('stalled');

      await cli(['ec2', 'delete-network-acl-entry', '--network-acl-id', lab.vpc.appNetworkAclId, '--egress', '--rule-number', '50']);
      await lab.networkSynced();
      expect((await answer).rows).toEqual([{ n: 7 }]);
    } finally {
      await session.end().catch(() => undefined);
    }
  });
});
