import type { NetworkAcl, NetworkAclEntry } from '@aws-sdk/client-ec2';
import { cidrContains } from './ingress';

// Network ACLs as a VPC evaluates them for one TCP packet crossing a subnet's boundary. They are
// stateless: a connection needs its request allowed out of one subnet and into the other, and its
// replies allowed back the same way. An ACL's rules for the packet's direction (`Egress`) are
// tried in rule-number order and the first whose protocol, CIDR and port range match decides; when
// none matches, the `*` rule (32767) denies. The CIDR is the remote address: the source for
// ingress, the destination for egress. The port range is the packet's destination port in both
// directions (so a reply's rule covers the client's ephemeral port). IPv6 rules never match the
// lab's IPv4 traffic; ICMP and UDP rules never match TCP.

export type AclDirection = 'ingress' | 'egress';

export interface AclVerdict {
  allowed: boolean;
  /** The deciding rule, or '*' when none matched. */
  rule: number | '*';
}

export interface TcpPacket {
  /** The address on the other side of the boundary (source for ingress, destination for egress). */
  remoteIp: string;
  destinationPort: number;
}

export function aclDecides(entries: NetworkAclEntry[], direction: AclDirection, packet: TcpPacket): AclVerdict {
  const rules = entries.filter((e) => !!e.Egress === (direction === 'egress')).sort((a, b) => (a.RuleNumber ?? 0) - (b.RuleNumber ?? 0));
  for (const entry of rules) {
    if (!matches(entry, packet)) continue;
    return { allowed: String(entry.RuleAction).toLowerCase() === 'allow', rule: entry.RuleNumber === 32767 ? '*' : (entry.RuleNumber ?? '*') };
  }
  return { allowed: false, rule: '*' };
}

function matches(entry: NetworkAclEntry, packet: TcpPacket): boolean {
  const protocol = String(entry.Protocol ?? '').toLowerCase();
  if (protocol !== '-1' && protocol !== 'all' && protocol !== '6' && protocol !== 'tcp') return false;
  if (!entry.CidrBlock || !cidrContains(entry.CidrBlock, packet.remoteIp)) return false;
  if (protocol === '-1' || protocol === 'all' || !entry.PortRange) return true;
  const from = entry.PortRange.From ?? 0;
  const to = entry.PortRange.To ?? 65535;
  return from <= packet.destinationPort && packet.destinationPort <= to;
}

/** The ACL a subnet uses: its association, else (a subnet always has one in AWS) the VPC's default. */
export function aclOfSubnet(acls: NetworkAcl[], subnetId: string): NetworkAcl | undefined {
  return acls.find((acl) => (acl.Associations ?? []).some((a) => a.SubnetId === subnetId)) ?? acls.find((acl) => acl.IsDefault);
}

export interface FlowEnds {
  client: { ip: string; subnetId: string; port: number };
  server: { ip: string; subnetId: string; port: number };
}

/** Where a flow's packets are dropped: which subnet's ACL, which direction, which rule. */
export interface AclDrop {
  leg: 'request' | 'reply';
  subnetId: string;
  networkAclId: string;
  direction: AclDirection;
  rule: number | '*';
}

/**
 * The four checks a TCP flow between two subnets needs: the request out of the client's subnet and
 * into the server's, the reply out of the server's subnet and into the client's. Traffic inside one
 * subnet crosses no ACL. Returns the first drop, or undefined when every packet gets through.
 */
export function aclDropsFlow(acls: NetworkAcl[], flow: FlowEnds): AclDrop | undefined {
  const { client, server } = flow;
  if (client.subnetId === server.subnetId) return undefined;
  const clientAcl = aclOfSubnet(acls, client.subnetId);
  const serverAcl = aclOfSubnet(acls, server.subnetId);
  const checks: Array<[AclDrop['leg'], string, NetworkAcl | undefined, AclDirection, TcpPacket]> = [
    ['request', client.subnetId, clientAcl, 'egress', { remoteIp: server.ip, destinationPort: server.port }],
    ['request', server.subnetId, serverAcl, 'ingress', { remoteIp: client.ip, destinationPort: server.port }],
    ['reply', server.subnetId, serverAcl, 'egress', { remoteIp: client.ip, destinationPort: client.port }],
    ['reply', client.subnetId, clientAcl, 'ingress', { remoteIp: server.ip, destinationPort: client.port }],
  ];
  for (const [leg, subnetId, acl, direction, packet] of checks) {
    // A subnet EC2 no longer knows (or a VPC without ACLs) has nothing that could let a packet through.
    const verdict = acl ? aclDecides(acl.Entries ?? [], direction, packet) : { allowed: false, rule: '*' as const };
    if (!verdict.allowed) return { leg, subnetId, networkAclId: acl?.NetworkAclId ?? '(none)', direction, rule: verdict.rule };
  }
  return undefined;
}
