import type { NetworkAcl, NetworkAclEntry } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { ephemeralSourcePort } from '@/infra/lab/network/db-network';
import { aclDecides, aclDropsFlow } from '@/infra/lab/network/nacl';

// Network ACL evaluation as AWS documents it: per direction, rule-number order, first match wins,
// `*` denies; the CIDR is the remote address and the port range the destination port.

const entry = (RuleNumber: number, Egress: boolean, RuleAction: 'allow' | 'deny', CidrBlock: string, Protocol = '6', ports?: [number, number]): NetworkAclEntry => ({
  RuleNumber,
  Egress,
  RuleAction,
  CidrBlock,
  Protocol,
  PortRange: ports ? { From: ports[0], To: ports[1] } : undefined,
});

describe('aclDecides', () => {
  const rules = [
    entry(100, false, 'allow', '10.0.1.0/24', '6', [5432, 5432]),
    entry(90, false, 'deny', '10.0.1.128/25', '6', [5432, 5432]),
    entry(100, true, 'allow', '10.0.1.0/24', '6', [1024, 65535]),
    entry(200, false, 'allow', '0.0.0.0/0', '-1'),
  ];

  it.each([
    ['a lower-numbered deny wins over a later allow', 'ingress', '10.0.1.200', 5432, { allowed: false, rule: 90 }],
    ['the allow decides for the rest of the subnet', 'ingress', '10.0.1.5', 5432, { allowed: true, rule: 100 }],
    ['a port outside the range falls through to the next rule', 'ingress', '10.0.1.5', 5433, { allowed: true, rule: 200 }],
    ['protocol -1 matches any port', 'ingress', '192.0.2.1', 80, { allowed: true, rule: 200 }],
    ['egress has its own rules: ephemeral ports back to the subnet', 'egress', '10.0.1.5', 40000, { allowed: true, rule: 100 }],
    ['nothing matching means the * rule denies', 'egress', '10.0.2.5', 40000, { allowed: false, rule: '*' }],
  ] as const)('%s', (_what, direction, remoteIp, destinationPort, verdict) => {
    expect(aclDecides(rules, direction, { remoteIp, destinationPort })).toEqual(verdict);
  });

  it('ignores UDP and ICMP rules for TCP, accepts "tcp" spelled out, and reports an explicit 32767 as *', () => {
    const acl = [entry(10, false, 'allow', '0.0.0.0/0', '17'), entry(20, false, 'deny', '0.0.0.0/0', 'tcp', [1, 100]), entry(32767, false, 'deny', '0.0.0.0/0', '-1')];
    expect(aclDecides(acl, 'ingress', { remoteIp: '10.0.0.1', destinationPort: 80 })).toEqual({ allowed: false, rule: 20 });
    expect(aclDecides(acl, 'ingress', { remoteIp: '10.0.0.1', destinationPort: 5432 })).toEqual({ allowed: false, rule: '*' });
  });
});

describe('aclDropsFlow', () => {
  const acl = (id: string, subnets: string[], entries: NetworkAclEntry[], IsDefault = false): NetworkAcl => ({
    NetworkAclId: id,
    IsDefault,
    Entries: entries,
    Associations: subnets.map((SubnetId) => ({ SubnetId, NetworkAclId: id })),
  });
  const app = acl('acl-app', ['subnet-app'], [entry(100, true, 'allow', '10.0.11.0/24', '6', [5432, 5432]), entry(100, false, 'allow', '10.0.11.0/24', '6', [1024, 65535])]);
  const db = acl('acl-db', ['subnet-db'], [entry(100, false, 'allow', '10.0.1.0/24', '6', [5432, 5432]), entry(100, true, 'allow', '10.0.1.0/24', '6', [1024, 65535])]);
  const flow = (clientPort = 40000) => ({ client: { ip: '10.0.1.4', subnetId: 'subnet-app', port: clientPort }, server: { ip: '10.0.11.25', subnetId: 'subnet-db', port: 5432 } });

  it('lets a flow through when all four legs are allowed', () => {
    expect(aclDropsFlow([app, db], flow())).toBeUndefined();
  });

  it('names the first leg that drops: request out, request in, reply out, reply in', () => {
    const noEgress = { ...app, Entries: app.Entries!.filter((e) => !e.Egress) };
    expect(aclDropsFlow([noEgress, db], flow())).toMatchObject({ leg: 'request', networkAclId: 'acl-app', direction: 'egress', rule: '*' });
    const noReply = { ...db, Entries: [entry(100, false, 'allow', '10.0.1.0/24', '6', [5432, 5432]), entry(100, true, 'allow', '10.0.1.0/24', '6', [1024, 32767])] };
    expect(aclDropsFlow([app, noReply], flow(40000))).toMatchObject({ leg: 'reply', networkAclId: 'acl-db', direction: 'egress' });
    expect(aclDropsFlow([app, noReply], flow(30000))).toBeUndefined();
  });

  it('uses the VPC default ACL for a subnet without an association, and checks nothing inside one subnet', () => {
    const allowAll = acl('acl-default', [], [entry(100, false, 'allow', '0.0.0.0/0', '-1'), entry(100, true, 'allow', '0.0.0.0/0', '-1')], true);
    expect(aclDropsFlow([allowAll, db], flow())).toBeUndefined();
    const denyAll = acl('acl-deny', ['subnet-app'], []);
    expect(aclDropsFlow([denyAll, db], { ...flow(), server: { ...flow().server, subnetId: 'subnet-app' } })).toBeUndefined();
  });
});

describe('ephemeralSourcePort', () => {
  it('keeps the kernel\'s port when it is in Linux\'s range and folds any other into 32768-60999', () => {
    expect(ephemeralSourcePort(45000)).toBe(45000);
    for (const port of [1024, 61000, 65535, undefined]) {
      const folded = ephemeralSourcePort(port);
      expect(folded).toBeGreaterThanOrEqual(32768);
      expect(folded).toBeLessThanOrEqual(60999);
    }
  });
});
