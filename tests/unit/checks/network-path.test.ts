import { describe, expect, it } from 'vitest';
import type { NetworkAclEntryInfo, NetworkAclInfo, SecurityGroupInfo } from '@/lib/aws/ec2';
import { describeLeg, evaluateDatabasePath, evaluateNetworkAcls, evaluateSecurityGroups, type DatabaseNetworkView, type PathSource } from '@/lib/checks/network-path';

// The VPC's decision for one backend's connections to the database, from EC2's description alone:
// the evaluation the path checks and (next) the TCP steps share.

const tcp = (ruleNumber: number, egress: boolean, cidr: string, from: number, to: number, action: 'allow' | 'deny' = 'allow', protocol = '6'): NetworkAclEntryInfo => ({
  ruleNumber,
  egress,
  protocol,
  action,
  cidr,
  ipv6Cidr: null,
  ports: { from, to },
});

function group(id: string, ingress: SecurityGroupInfo['ingress'] = [], egress: SecurityGroupInfo['egress'] = [{ protocol: '-1', fromPort: null, toPort: null, peers: [{ kind: 'cidr', value: '0.0.0.0/0', description: null }] }]): SecurityGroupInfo {
  return { id, name: null, vpcId: 'vpc-1', tags: {}, ingress, egress };
}

const admitsBackendGroup = [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, peers: [{ kind: 'group' as const, value: 'sg-backend', description: null }] }];

function view(overrides: { acls?: NetworkAclInfo[]; groups?: SecurityGroupInfo[]; networkInterface?: DatabaseNetworkView['database']['networkInterface'] } = {}): DatabaseNetworkView {
  const acls = overrides.acls ?? [
    {
      id: 'acl-app',
      name: null,
      vpcId: 'vpc-1',
      isDefault: false,
      associations: [{ associationId: 'a1', subnetId: 'subnet-app-a' }, { associationId: 'a2', subnetId: 'subnet-app-b' }],
      entries: [tcp(100, true, '10.0.11.0/24', 5432, 5432), tcp(100, false, '10.0.11.0/24', 1024, 65535)],
    },
    {
      id: 'acl-db',
      name: null,
      vpcId: 'vpc-1',
      isDefault: false,
      associations: [{ associationId: 'a3', subnetId: 'subnet-db-a' }],
      entries: [tcp(100, false, '10.0.0.0/16', 5432, 5432), tcp(100, true, '10.0.0.0/16', 1024, 65535)],
    },
  ];
  const groups = overrides.groups ?? [group('sg-db', admitsBackendGroup), group('sg-backend')];
  return {
    vpcId: 'vpc-1',
    port: 5432,
    database: {
      securityGroupIds: ['sg-db'],
      subnetIds: ['subnet-db-a', 'subnet-db-b'],
      availabilityZone: 'us-east-1a',
      networkInterface: overrides.networkInterface === undefined ? { id: 'eni-1', subnetId: 'subnet-db-a', privateIp: '10.0.11.25', availabilityZone: 'us-east-1a', securityGroupIds: ['sg-db'] } : overrides.networkInterface,
    },
    groups: new Map(groups.map((g) => [g.id, g])),
    subnets: new Map(
      [
        ['subnet-app-a', '10.0.1.0/24', 'us-east-1a'],
        ['subnet-app-b', '10.0.2.0/24', 'us-east-1b'],
        ['subnet-db-a', '10.0.11.0/24', 'us-east-1a'],
        ['subnet-db-b', '10.0.12.0/24', 'us-east-1b'],
      ].map(([id, cidr, zone]) => [id!, { id: id!, name: null, cidr: cidr!, vpcId: 'vpc-1', availabilityZone: zone! }]),
    ),
    acls,
  };
}

const backend = (overrides: Partial<PathSource> = {}): PathSource => ({ id: 'i-b', privateIp: '10.0.2.7', subnetId: 'subnet-app-b', vpcId: 'vpc-1', securityGroupIds: ['sg-backend'], ...overrides });

describe('security groups', () => {
  it('admit an instance by one of its own groups and let it out through its egress', () => {
    expect(evaluateSecurityGroups(view(), backend())).toMatchObject({ verdict: 'open', ingress: { groupId: 'sg-db', peer: { value: 'sg-backend' } }, egress: { groupId: 'sg-backend' } });
  });

  it('block an instance moved to another group although the rule is intact', () => {
    const v = view({ groups: [group('sg-db', admitsBackendGroup), group('sg-backend'), group('sg-other')] });
    expect(evaluateSecurityGroups(v, backend({ securityGroupIds: ['sg-other'] }))).toMatchObject({ verdict: 'blocked', reason: 'ingress' });
  });

  it('admit by a CIDR only the address it holds', () => {
    const byAddress = [{ protocol: 'tcp', fromPort: 5432, toPort: 5432, peers: [{ kind: 'cidr' as const, value: '10.0.1.5/32', description: null }] }];
    const v = view({ groups: [group('sg-db', byAddress), group('sg-backend')] });
    expect(evaluateSecurityGroups(v, backend({ privateIp: '10.0.1.5', subnetId: 'subnet-app-a' })).verdict).toBe('open');
    expect(evaluateSecurityGroups(v, backend()).verdict).toBe('blocked');
  });

  it('block when the instance\'s own groups let nothing out to the database', () => {
    const v = view({ groups: [group('sg-db', admitsBackendGroup), group('sg-backend', [], [{ protocol: 'tcp', fromPort: 443, toPort: 443, peers: [{ kind: 'cidr', value: '0.0.0.0/0', description: null }] }])] });
    expect(evaluateSecurityGroups(v, backend())).toMatchObject({ verdict: 'blocked', reason: 'egress' });
  });

  it('do not guess about a group EC2 did not describe', () => {
    expect(evaluateSecurityGroups(view(), backend({ securityGroupIds: ['sg-gone'] }))).toMatchObject({ verdict: 'unknown', reason: 'EC2 did not describe sg-gone' });
  });
});

describe('network ACLs, four stateless legs', () => {
  it('pass the request to 5432 and the reply to every Linux ephemeral port', () => {
    const path = evaluateNetworkAcls(view(), backend());
    expect(path).toMatchObject({ verdict: 'open', databaseKnown: 'interface' });
    expect(path.verdict === 'open' && path.legs.map((l) => `${l.leg} ${l.direction} ${l.subnetId} ${l.verdict}`)).toEqual([
      'request egress subnet-app-b allowed',
      'request ingress subnet-db-a allowed',
      'reply egress subnet-db-a allowed',
      'reply ingress subnet-app-b allowed',
    ]);
  });

  it('name the deny entry numbered before the allow', () => {
    const v = view();
    (v.acls[1]!.entries as NetworkAclEntryInfo[]).push(tcp(90, false, '10.0.2.0/24', 5432, 5432, 'deny'));
    const path = evaluateNetworkAcls(v, backend());
    expect(path.verdict).toBe('blocked');
    const leg = path.verdict === 'blocked' ? path.legs.find((l) => l.verdict !== 'allowed')! : null;
    expect(describeLeg(leg!)).toBe('the request into subnet-db-a is dropped by acl-db: port 5432 from 10.0.2.7: ingress rule 90 (deny tcp 5432 from 10.0.2.0/24)');
    expect(evaluateNetworkAcls(v, backend({ id: 'i-a', privateIp: '10.0.1.9', subnetId: 'subnet-app-a' })).verdict).toBe('open');
  });

  it('drop a reply whose rule stops below Linux\'s ephemeral ports, saying which ports', () => {
    const v = view();
    const replyRule = (to: number) => ((v.acls[1]! as { entries: NetworkAclEntryInfo[] }).entries = [tcp(100, false, '10.0.0.0/16', 5432, 5432), tcp(100, true, '10.0.0.0/16', 1024, to)]);
    replyRule(40000);
    const path = evaluateNetworkAcls(v, backend());
    expect(path.verdict).toBe('blocked');
    const leg = path.verdict === 'blocked' ? path.legs.find((l) => l.verdict !== 'allowed')! : null;
    expect(leg).toMatchObject({ leg: 'reply', direction: 'egress', verdict: 'partly-denied' });
    expect(describeLeg(leg!)).toBe('the reply out of subnet-db-a is partly dropped by acl-db: ports 40001-60999 to 10.0.2.7: egress rule * (no entry allows it)');
    // 1024-32767 (a common mistake) misses every port Linux picks.
    replyRule(32767);
    const missed = evaluateNetworkAcls(v, backend());
    expect(missed.verdict === 'blocked' && missed.legs.find((l) => l.verdict !== 'allowed')).toMatchObject({ leg: 'reply', verdict: 'denied' });
  });

  it('read the protocol as EC2 stores it ("tcp", "6" or "-1") and ignore UDP', () => {
    const v = view();
    (v.acls[1]! as { entries: NetworkAclEntryInfo[] }).entries = [tcp(50, false, '0.0.0.0/0', 5432, 5432, 'deny', '17'), tcp(100, false, '10.0.0.0/16', 5432, 5432, 'allow', 'tcp'), { ...tcp(100, true, '0.0.0.0/0', 0, 0), protocol: '-1', ports: null }];
    expect(evaluateNetworkAcls(v, backend()).verdict).toBe('open');
  });

  it('fall back to the default ACL for a subnet without an association, and cross none inside one subnet', () => {
    const v = view();
    const acls = [...v.acls, { id: 'acl-default', name: null, vpcId: 'vpc-1', isDefault: true, associations: [], entries: [] }];
    expect(evaluateNetworkAcls({ ...v, acls: acls.map((a) => (a.id === 'acl-app' ? { ...a, associations: [] } : a)) }, backend()).verdict).toBe('blocked');
    expect(evaluateNetworkAcls(v, backend({ subnetId: 'subnet-db-a', privateIp: '10.0.11.40' }))).toMatchObject({ verdict: 'open', sameSubnet: true });
  });

  it('without RDS\'s interface, judge its whole subnet: certain when all of it passes or none does, unknown in between', () => {
    const open = view({ networkInterface: null });
    expect(evaluateNetworkAcls(open, backend())).toMatchObject({ verdict: 'open', databaseKnown: 'subnet' });
    const half = view({ networkInterface: null });
    (half.acls[0]! as { entries: NetworkAclEntryInfo[] }).entries = [tcp(100, true, '10.0.11.0/25', 5432, 5432), tcp(100, false, '10.0.11.0/24', 1024, 65535)];
    expect(evaluateNetworkAcls(half, backend()).verdict).toBe('unknown');
  });
});

describe('the whole path, as a TCP step asks it', () => {
  it('says in one line why no connection can get through, or null', () => {
    expect(evaluateDatabasePath(view(), backend()).blocked).toBeNull();
    const v = view({ groups: [group('sg-db', admitsBackendGroup), group('sg-other')] });
    expect(evaluateDatabasePath(v, backend({ securityGroupIds: ['sg-other'] })).blocked).toBe('sg-db admits neither sg-other nor 10.0.2.7 on tcp 5432');
  });
});
