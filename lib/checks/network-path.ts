import type { NetworkAclEntryInfo, NetworkAclInfo, RdsNetworkInterface, RulePeer, SecurityGroupInfo, SecurityGroupRule, SubnetInfo } from '@/lib/aws/ec2';
import { ruleCoversPort } from '@/lib/aws/ec2';

// Whether the VPC lets one backend instance open TCP to the database, decided from what EC2 and RDS
// describe, as a VPC decides it: security groups (stateful: the instance's groups must let the
// connection out, the DB's groups must admit one of those groups or the instance's address) and
// network ACLs (stateless: the request must leave the instance's subnet and enter the DB's, and the
// reply must leave the DB's subnet and enter the instance's, each leg decided by the first entry in
// rule-number order that matches, else the final `*` deny).
//
// Pure: it takes a DatabaseNetworkView (read through the run context) and answers with verdicts
// and the deciding rules, so the status checks and a TCP step (which can then say "blocked" without
// waiting out a timeout) decide the same way. IPv4 only, as the backends' traffic is.

/** Where Linux picks a client's source port (net.ipv4.ip_local_port_range): the backends' replies go there. */
export const LINUX_EPHEMERAL_PORTS = { from: 32768, to: 60999 } as const;
/** What a reply rule should allow so that any client works (AWS's advice for network ACLs). */
export const RECOMMENDED_EPHEMERAL_PORTS = { from: 1024, to: 65535 } as const;

export interface DatabaseNetworkView {
  /** The database's VPC (its subnet group's), null when RDS says nothing about it. */
  vpcId: string | null;
  /** The port the database listens on. */
  port: number;
  database: {
    securityGroupIds: string[];
    /** The DB subnet group's subnets: where RDS may place its interface. */
    subnetIds: string[];
    availabilityZone: string | null;
    /** RDS's own interface (description "RDSNetworkInterface"); null when none was found. */
    networkInterface: RdsNetworkInterface | null;
  };
  /** Every security group named by the DB or a source, by id (absent: EC2 did not describe it). */
  groups: ReadonlyMap<string, SecurityGroupInfo>;
  subnets: ReadonlyMap<string, SubnetInfo>;
  acls: readonly NetworkAclInfo[];
}

/** A host that connects to the database: a backend instance as DescribeInstances shows it. */
export interface PathSource {
  id: string;
  privateIp: string | null;
  subnetId: string | null;
  vpcId: string | null;
  securityGroupIds: string[];
}

// ---- Addresses ----

interface AddressRange {
  lo: number;
  hi: number;
}

export function parseIpv4(ip: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!;
}

export function cidrRange(cidr: string): AddressRange | null {
  const [ip, bits] = cidr.split('/');
  const base = parseIpv4(ip ?? '');
  const n = bits === undefined ? 32 : Number(bits);
  if (base === null || !Number.isInteger(n) || n < 0 || n > 32) return null;
  const size = 2 ** (32 - n);
  const lo = Math.floor(base / size) * size;
  return { lo, hi: lo + size - 1 };
}

function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function rangeText(r: AddressRange): string {
  return r.lo === r.hi ? formatIpv4(r.lo) : `${formatIpv4(r.lo)}-${formatIpv4(r.hi)}`;
}

const contains = (outer: AddressRange, inner: AddressRange) => outer.lo <= inner.lo && inner.hi <= outer.hi;

// ---- Where the database is ----

export interface DatabaseEnd {
  subnetId: string;
  /** Its address, or its whole subnet when RDS's interface was not found. */
  range: AddressRange;
  /** How the console knows: from RDS's interface, or assumed from the subnet group. */
  known: 'interface' | 'subnet';
}

/**
 * Where the DB's packets come from: RDS's interface in one of its subnet group's subnets (the one in
 * the instance's zone), or — when no such interface was found — each subnet of the group in that
 * zone (every subnet of the group when the zone is unknown), with its whole CIDR as the address.
 */
export function databaseEnds(view: DatabaseNetworkView): DatabaseEnd[] {
  const eni = view.database.networkInterface;
  const ip = eni?.privateIp ? parseIpv4(eni.privateIp) : null;
  if (eni?.subnetId && ip !== null) return [{ subnetId: eni.subnetId, range: { lo: ip, hi: ip }, known: 'interface' }];
  const inGroup = view.database.subnetIds.map((id) => view.subnets.get(id)).filter((s): s is SubnetInfo => !!s);
  const inZone = inGroup.filter((s) => s.availabilityZone && s.availabilityZone === view.database.availabilityZone);
  return (inZone.length > 0 ? inZone : inGroup).flatMap((s) => {
    const range = s.cidr ? cidrRange(s.cidr) : null;
    return range ? [{ subnetId: s.id, range, known: 'subnet' as const }] : [];
  });
}

// ---- Security groups ----

export interface GroupRuleMatch {
  groupId: string;
  rule: SecurityGroupRule;
  /** The peer of the rule that matched: the group or CIDR. */
  peer: RulePeer;
}

export type SecurityGroupPath =
  | { verdict: 'open'; egress: GroupRuleMatch; ingress: GroupRuleMatch }
  | { verdict: 'blocked'; reason: 'other-vpc' | 'egress' | 'ingress'; egress: GroupRuleMatch | null; ingress: GroupRuleMatch | null }
  | { verdict: 'unknown'; reason: string };

/** Does the instance's own egress let the connection out, and does a DB group admit it? Replies follow by themselves. */
export function evaluateSecurityGroups(view: DatabaseNetworkView, source: PathSource): SecurityGroupPath {
  if (source.vpcId && view.vpcId && source.vpcId !== view.vpcId) return { verdict: 'blocked', reason: 'other-vpc', egress: null, ingress: null };
  if (view.database.securityGroupIds.length === 0) return { verdict: 'unknown', reason: 'RDS named no security group for the database' };
  const missing = [...source.securityGroupIds, ...view.database.securityGroupIds].filter((id) => !view.groups.has(id));
  if (missing.length > 0) return { verdict: 'unknown', reason: `EC2 did not describe ${missing.join(', ')}` };
  const ends = databaseEnds(view);
  if (ends.length === 0) return { verdict: 'unknown', reason: 'neither RDS\'s network interface nor its subnets could be found' };
  const sourceIp = source.privateIp ? parseIpv4(source.privateIp) : null;

  const egress = firstMatch(source.securityGroupIds, view, 'egress', (peer) =>
    peer.kind === 'group' ? view.database.securityGroupIds.includes(peer.value) : peer.kind === 'cidr' && ends.every((end) => cidrHolds(peer.value, end.range)),
  );
  const ingress = firstMatch(view.database.securityGroupIds, view, 'ingress', (peer) =>
    peer.kind === 'group' ? source.securityGroupIds.includes(peer.value) : peer.kind === 'cidr' && sourceIp !== null && cidrHolds(peer.value, { lo: sourceIp, hi: sourceIp }),
  );
  if (egress && ingress) return { verdict: 'open', egress, ingress };
  return { verdict: 'blocked', reason: egress ? 'ingress' : 'egress', egress, ingress };

  function cidrHolds(cidr: string, inner: AddressRange): boolean {
    const r = cidrRange(cidr);
    return !!r && contains(r, inner);
  }
}

function firstMatch(
  groupIds: string[],
  view: DatabaseNetworkView,
  direction: 'ingress' | 'egress',
  admits: (peer: RulePeer) => boolean,
): GroupRuleMatch | null {
  for (const groupId of groupIds) {
    for (const rule of view.groups.get(groupId)![direction]) {
      if (!ruleCoversPort(rule, view.port)) continue;
      const peer = rule.peers.find(admits);
      if (peer) return { groupId, rule, peer };
    }
  }
  return null;
}

// ---- Network ACLs ----

export type AclDirection = 'ingress' | 'egress';

/** One of the four crossings a TCP flow between two subnets makes. */
export interface AclLeg {
  leg: 'request' | 'reply';
  direction: AclDirection;
  subnetId: string;
  /** The subnet on the other side of the boundary. */
  remoteSubnetId: string;
  /** The ACL in force on that subnet; null when EC2 shows none (nothing then passes). */
  acl: NetworkAclInfo | null;
  /** The other end's addresses and the packet's destination ports. */
  remote: AddressRange;
  ports: { from: number; to: number };
}

/** A part of a leg's traffic and the entry that decides it: a rule number, or '*' when none matches. */
export interface AclDecision {
  addresses: string;
  ports: { from: number; to: number };
  allowed: boolean;
  rule: number | '*';
  entry: NetworkAclEntryInfo | null;
}

export interface AclLegVerdict extends AclLeg {
  verdict: 'allowed' | 'denied' | 'partly-denied';
  decisions: AclDecision[];
}

export type AclPath =
  | { verdict: 'open' | 'blocked'; legs: AclLegVerdict[]; databaseKnown: 'interface' | 'subnet'; sameSubnet: boolean }
  | { verdict: 'unknown'; reason: string };

/** The ACL a subnet uses: the one associated with it, else the VPC's default. */
export function aclOfSubnet(acls: readonly NetworkAclInfo[], subnetId: string): NetworkAclInfo | null {
  return acls.find((a) => a.associations.some((x) => x.subnetId === subnetId)) ?? acls.find((a) => a.isDefault) ?? null;
}

/**
 * The four legs of a connection from `source` to the database, each decided over every address
 * and port it may use: the request to the DB port, the reply to the whole of `ephemeral` (a rule
 * that covers only part of it drops some connections, which is a fault too). A part of a leg that
 * is denied blocks the path; with RDS's address unknown, a leg denied for part of the DB subnet
 * leaves the answer unknown.
 */
export function evaluateNetworkAcls(view: DatabaseNetworkView, source: PathSource, ephemeral: { from: number; to: number } = LINUX_EPHEMERAL_PORTS): AclPath {
  const sourceSubnet = source.subnetId;
  if (!sourceSubnet || !source.privateIp) return { verdict: 'unknown', reason: 'EC2 gave the instance no subnet or private address' };
  const sourceIp = parseIpv4(source.privateIp);
  if (sourceIp === null) return { verdict: 'unknown', reason: `${source.privateIp} is not an IPv4 address` };
  if (source.vpcId && view.vpcId && source.vpcId !== view.vpcId) return { verdict: 'unknown', reason: `the instance is in ${source.vpcId}, the database in ${view.vpcId}` };
  const ends = databaseEnds(view);
  if (ends.length === 0) return { verdict: 'unknown', reason: 'neither RDS\'s network interface nor its subnets could be found' };
  const self: AddressRange = { lo: sourceIp, hi: sourceIp };
  const dbPort = { from: view.port, to: view.port };
  const sourceAcl = aclOfSubnet(view.acls, sourceSubnet);
  const perEnd = ends.map((end) => {
    // Inside one subnet no ACL is crossed.
    if (end.subnetId === sourceSubnet) return { legs: [] as AclLegVerdict[], verdict: 'open' as const };
    const dbAcl = aclOfSubnet(view.acls, end.subnetId);
    const legs = (
      [
        { leg: 'request', direction: 'egress', subnetId: sourceSubnet, remoteSubnetId: end.subnetId, acl: sourceAcl, remote: end.range, ports: dbPort },
        { leg: 'request', direction: 'ingress', subnetId: end.subnetId, remoteSubnetId: sourceSubnet, acl: dbAcl, remote: self, ports: dbPort },
        { leg: 'reply', direction: 'egress', subnetId: end.subnetId, remoteSubnetId: sourceSubnet, acl: dbAcl, remote: self, ports: ephemeral },
        { leg: 'reply', direction: 'ingress', subnetId: sourceSubnet, remoteSubnetId: end.subnetId, acl: sourceAcl, remote: end.range, ports: ephemeral },
      ] satisfies AclLeg[]
    ).map(decideLeg);
    // With RDS's address only known to be somewhere in its subnet, a leg denied for some of the
    // subnet's addresses but not others may or may not drop its connections.
    const certain = legs.some((l) => l.verdict === 'denied' || (l.verdict === 'partly-denied' && (end.known === 'interface' || !dependsOnAddress(l))));
    const verdict = certain ? ('blocked' as const) : legs.every((l) => l.verdict === 'allowed') ? ('open' as const) : ('unknown' as const);
    return { legs, verdict };
  });
  const legs = perEnd.flatMap((e) => e.legs);
  const known = ends[0]!.known;
  const sameSubnet = ends.every((end) => end.subnetId === sourceSubnet);
  // RDS sits in one of the candidate subnets: certain only when they all agree.
  if (perEnd.every((e) => e.verdict === 'open')) return { verdict: 'open', legs, databaseKnown: known, sameSubnet };
  if (perEnd.every((e) => e.verdict === 'blocked')) return { verdict: 'blocked', legs, databaseKnown: known, sameSubnet };
  return { verdict: 'unknown', reason: 'RDS\'s network interface was not found, and the network ACLs treat the subnets (or addresses) it may have differently' };
}

/** True when a leg is denied only for some addresses (on every port): whether it drops depends on where RDS sits. */
function dependsOnAddress(leg: AclLegVerdict): boolean {
  const denied = leg.decisions.filter((d) => !d.allowed);
  return denied.every((d) => d.ports.from === leg.ports.from && d.ports.to === leg.ports.to);
}

function decideLeg(leg: AclLeg): AclLegVerdict {
  if (!leg.acl) {
    const decision: AclDecision = { addresses: rangeText(leg.remote), ports: leg.ports, allowed: false, rule: '*', entry: null };
    return { ...leg, verdict: 'denied', decisions: [decision] };
  }
  const entries = leg.acl.entries.filter((e) => e.egress === (leg.direction === 'egress') && appliesToTcp(e)).sort((a, b) => a.ruleNumber - b.ruleNumber);
  // Cut the leg's addresses and ports wherever an entry's edges fall: within each cell one entry decides alike.
  const addressCuts = cuts(leg.remote.lo, leg.remote.hi, entries.flatMap((e) => (e.cidr ? [cidrRange(e.cidr)].filter((r): r is AddressRange => !!r).flatMap((r) => [r.lo, r.hi + 1]) : [])));
  const portCuts = cuts(leg.ports.from, leg.ports.to, entries.flatMap((e) => (e.ports && e.protocol !== '-1' && e.protocol !== 'all' ? [e.ports.from, e.ports.to + 1] : [])));
  const cells: AclDecision[] = [];
  for (const [alo, ahi] of addressCuts) {
    for (const [plo, phi] of portCuts) {
      const entry = entries.find((e) => entryMatches(e, alo, plo)) ?? null;
      cells.push({ addresses: rangeText({ lo: alo, hi: ahi }), ports: { from: plo, to: phi }, allowed: entry?.action === 'allow', rule: entry?.ruleNumber ?? '*', entry });
    }
  }
  const decisions = mergeCells(cells);
  const verdict = decisions.every((d) => d.allowed) ? 'allowed' : decisions.every((d) => !d.allowed) ? 'denied' : 'partly-denied';
  return { ...leg, verdict, decisions };
}

function appliesToTcp(e: NetworkAclEntryInfo): boolean {
  return e.protocol === '-1' || e.protocol === 'all' || e.protocol === '6' || e.protocol === 'tcp';
}

function entryMatches(e: NetworkAclEntryInfo, address: number, port: number): boolean {
  const range = e.cidr ? cidrRange(e.cidr) : null;
  if (!range || address < range.lo || address > range.hi) return false;
  if (e.protocol === '-1' || e.protocol === 'all' || !e.ports) return true;
  return e.ports.from <= port && port <= e.ports.to;
}

/** [lo, hi] split at each boundary inside it, as consecutive closed intervals. */
function cuts(lo: number, hi: number, boundaries: number[]): Array<[number, number]> {
  const starts = [...new Set([lo, ...boundaries.filter((b) => b > lo && b <= hi)])].sort((a, b) => a - b);
  return starts.map((s, i) => [s, i + 1 < starts.length ? starts[i + 1]! - 1 : hi]);
}

/** Neighbouring cells decided by the same entry read as one: "ports 32768-60999 … rule *". */
function mergeCells(cells: AclDecision[]): AclDecision[] {
  const merged: AclDecision[] = [];
  for (const c of cells) {
    const same = merged.find((m) => m.rule === c.rule && m.addresses === c.addresses && m.ports.to + 1 === c.ports.from);
    if (same) same.ports = { from: same.ports.from, to: c.ports.to };
    else merged.push({ ...c, ports: { ...c.ports } });
  }
  return merged;
}

// ---- Both, for a TCP step ----

export interface DatabasePath {
  securityGroups: SecurityGroupPath;
  networkAcls: AclPath;
  /** Certain that no connection from this source can get through, and why (one line). */
  blocked: string | null;
}

/** Everything the VPC decides about one source's connections to the database. */
export function evaluateDatabasePath(view: DatabaseNetworkView, source: PathSource): DatabasePath {
  const securityGroups = evaluateSecurityGroups(view, source);
  const networkAcls = evaluateNetworkAcls(view, source);
  let blocked: string | null = null;
  if (securityGroups.verdict === 'blocked') blocked = describeSecurityGroupBlock(view, source, securityGroups);
  else if (networkAcls.verdict === 'blocked') blocked = networkAcls.legs.filter((l) => l.verdict !== 'allowed').map((l) => describeLeg(l))[0] ?? null;
  return { securityGroups, networkAcls, blocked };
}

export function describeSecurityGroupBlock(view: DatabaseNetworkView, source: PathSource, path: Extract<SecurityGroupPath, { verdict: 'blocked' }>): string {
  const groups = source.securityGroupIds.join(', ') || 'no group';
  if (path.reason === 'other-vpc') return `${source.id} is in ${source.vpcId}, the database in ${view.vpcId}: security groups cannot admit it`;
  if (path.reason === 'egress') return `the egress rules of ${groups} do not let tcp ${view.port} out to the database`;
  return `${view.database.securityGroupIds.join(', ')} admits neither ${groups} nor ${source.privateIp ?? 'its address'} on tcp ${view.port}`;
}

/** "the request into subnet-x is dropped by acl-y: port 5432 from 10.0.2.5: ingress rule 90 (deny tcp 5432 from 10.0.2.0/24)". */
export function describeLeg(leg: AclLegVerdict, subnetName: (id: string) => string = (id) => id): string {
  const where = `${leg.leg === 'request' ? 'the request' : 'the reply'} ${leg.direction === 'egress' ? 'out of' : 'into'} ${subnetName(leg.subnetId)}`;
  if (!leg.acl) return `${where} is dropped: EC2 shows no network ACL for the subnet`;
  const denied = leg.decisions.filter((d) => !d.allowed);
  const parts = denied.map((d) => {
    const what = leg.leg === 'reply' || d.ports.from !== d.ports.to ? `ports ${d.ports.from}-${d.ports.to}` : `port ${d.ports.from}`;
    const by = d.entry ? `${leg.direction} rule ${d.rule} (${describeAclEntry(d.entry)})` : `${leg.direction} rule * (no entry allows it)`;
    return `${what} ${leg.direction === 'egress' ? 'to' : 'from'} ${d.addresses}: ${by}`;
  });
  const scope = leg.verdict === 'partly-denied' ? 'is partly dropped' : 'is dropped';
  return `${where} ${scope} by ${leg.acl.id}: ${parts.join('; ')}`;
}

export function describeAclEntry(e: NetworkAclEntryInfo): string {
  const proto = e.protocol === '-1' || e.protocol === 'all' ? 'all traffic' : e.protocol === '6' ? 'tcp' : e.protocol;
  const ports = e.ports && proto !== 'all traffic' ? (e.ports.from === e.ports.to ? ` ${e.ports.from}` : ` ${e.ports.from}-${e.ports.to}`) : '';
  return `${e.action} ${proto}${ports} ${e.egress ? 'to' : 'from'} ${e.cidr ?? e.ipv6Cidr ?? '?'}`;
}
