import 'server-only';
import {
  DescribeInstancesCommand,
  DescribeNetworkAclsCommand,
  DescribeNetworkInterfacesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  type Filter,
  type Instance as SdkInstance,
  type IpPermission,
  type SecurityGroup as SdkSecurityGroup,
} from '@aws-sdk/client-ec2';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { batched, type BatchedApi } from './batch';
import { awsClients, sendOptions, type CallOptions } from './clients';

// Security groups and backend instances, found by the environment's selectors (ids or tags), and
// the VPC around them as each backend's path to the database crosses it: subnets, network ACLs and
// RDS's own network interface.

type Selector = AwsEnvironmentConfig['dbSecurityGroup'];

/** The other side of a rule: where an ingress rule admits traffic from, where an egress rule lets it go. */
export interface RulePeer {
  kind: 'group' | 'cidr' | 'cidr6' | 'prefix-list';
  value: string;
  description: string | null;
}

export interface SecurityGroupRule {
  /** "tcp", "udp", "icmp" or "-1" (all traffic); EC2 may also answer with the number ("6"). */
  protocol: string;
  fromPort: number | null;
  toPort: number | null;
  peers: RulePeer[];
}

export interface SecurityGroupInfo {
  id: string;
  name: string | null;
  vpcId: string | null;
  tags: Record<string, string>;
  ingress: SecurityGroupRule[];
  egress: SecurityGroupRule[];
}

export interface LinkboxSecurityGroups {
  db: SecurityGroupInfo[];
  backend: SecurityGroupInfo[];
}

/** The one description of a backend instance, for the checks, the runbooks and the rolling restart. */
export interface BackendInstance {
  id: string;
  name: string | null;
  state: string | null;
  privateIp: string | null;
  subnetId: string | null;
  vpcId: string | null;
  /** The instance's own groups (DescribeInstances' SecurityGroups, which modify-instance-attribute --groups replaces). */
  securityGroupIds: string[];
  /** The instance profile whose role start_application.sh reads SSM with; null when it has none. */
  instanceProfileArn: string | null;
}

/**
 * Both groups: one DescribeSecurityGroups call when the selectors can share one (both by ids, or
 * both by tags on the same keys), else two at once, shared with the scope's other environments.
 */
export async function describeLinkboxSecurityGroups(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<LinkboxSecurityGroups> {
  const [db, backend] = await Promise.all([batched(env, SECURITY_GROUPS, env.dbSecurityGroup, opts), batched(env, SECURITY_GROUPS, env.backendSecurityGroup, opts)]);
  return { db, backend };
}

/** Security groups by id, with their ingress and egress rules: the groups a path check needs beyond the configured ones. */
export function describeSecurityGroupsById(env: AwsEnvironmentConfig, groupIds: string[], opts: CallOptions = {}): Promise<SecurityGroupInfo[]> {
  return batched(env, SECURITY_GROUPS, { ids: groupIds }, opts);
}

type EC2Query = { ids: string[]; filters?: undefined } | { ids?: undefined; filters: Filter[] };

async function describeGroups(env: AwsEnvironmentConfig, query: EC2Query, opts: CallOptions): Promise<SecurityGroupInfo[]> {
  const { ec2 } = awsClients(env);
  const groups: SdkSecurityGroup[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: query.ids, Filters: query.filters, NextToken }), sendOptions(opts));
    groups.push(...(out.SecurityGroups ?? []));
    NextToken = out.NextToken;
  } while (NextToken);
  return groups.map(toGroupInfo);
}

/** Every instance the environment's selector names (terminated ones too when named by id), sorted by id. */
export async function describeBackendInstances(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<BackendInstance[]> {
  const sel = env.backendInstances;
  const found = await batched(env, INSTANCES, sel, opts);
  return (
    found
      // Terminated instances linger in DescribeInstances for an hour; they are not part of the fleet.
      .filter((i) => 'ids' in sel || (i.State?.Name !== 'terminated' && i.State?.Name !== 'shutting-down'))
      .map((i) => ({
        id: i.InstanceId!,
        name: nameTag(i.Tags),
        state: i.State?.Name ?? null,
        privateIp: i.PrivateIpAddress ?? null,
        subnetId: i.SubnetId ?? null,
        vpcId: i.VpcId ?? null,
        securityGroupIds: (i.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
        instanceProfileArn: i.IamInstanceProfile?.Arn ?? null,
      }))
      .sort((a, b) => a.id.localeCompare(b.id))
  );
}

async function describeInstances(env: AwsEnvironmentConfig, query: EC2Query, opts: CallOptions): Promise<SdkInstance[]> {
  const { ec2 } = awsClients(env);
  const instances: SdkInstance[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: query.ids, Filters: query.filters, NextToken }), sendOptions(opts));
    for (const r of out.Reservations ?? []) instances.push(...(r.Instances ?? []).filter((i) => i.InstanceId));
    NextToken = out.NextToken;
  } while (NextToken);
  return instances;
}

/** EC2 takes at most this many values in one filter. */
const EC2_FILTER_VALUES_MAX = 200;

/**
 * One Describe* call for the selectors of a scope's environments: selectors by ids together, and
 * selectors by tags on the same keys together (each key's values OR-ed, so the answer is a superset).
 * Each requester keeps exactly what its own selector names; an id it did not name is not its answer.
 */
function bySelector<T>(name: string, describe: (env: AwsEnvironmentConfig, query: EC2Query, opts: CallOptions) => Promise<T[]>, facts: (item: T) => { id: string; tags: Record<string, string> }): BatchedApi<Selector, T[], T[]> {
  return {
    name,
    variant: (sel) => ('ids' in sel ? 'ids' : `tags:${JSON.stringify(Object.keys(sel.tags).sort())}`),
    limit: EC2_FILTER_VALUES_MAX,
    units: (sel) => ('ids' in sel ? sel.ids : [JSON.stringify(Object.entries(sel.tags).sort())]),
    send(env, units, [first], opts) {
      if ('ids' in first!) return describe(env, { ids: units }, opts);
      const values = new Map<string, Set<string>>();
      for (const unit of units) for (const [k, v] of JSON.parse(unit) as Array<[string, string]>) values.set(k, (values.get(k) ?? new Set()).add(v));
      return describe(env, { filters: [...values].map(([k, vs]) => ({ Name: `tag:${k}`, Values: [...vs] })) }, opts);
    },
    answer(sel, answers) {
      const byId = new Map<string, T>();
      for (const item of answers.flat()) {
        const { id, tags } = facts(item);
        const named = 'ids' in sel ? sel.ids.includes(id) : Object.entries(sel.tags).every(([k, v]) => tags[k] !== undefined && filterValueMatches(v, tags[k]));
        if (named) byId.set(id, item);
      }
      return [...byId.values()];
    },
  };
}

const SECURITY_GROUPS = bySelector('ec2:DescribeSecurityGroups', describeGroups, (g) => g);
const INSTANCES = bySelector('ec2:DescribeInstances', describeInstances, (i) => ({ id: i.InstanceId!, tags: tagMap(i.Tags) }));

/** Does this rule let TCP traffic through on `port`? */
export function ruleCoversPort(rule: SecurityGroupRule, port: number): boolean {
  if (rule.protocol === '-1' || rule.protocol === 'all') return true;
  if (rule.protocol !== 'tcp' && rule.protocol !== '6') return false;
  if (rule.fromPort === null || rule.toPort === null) return false;
  return rule.fromPort <= port && port <= rule.toPort;
}

/** "tcp 5432 from sg-1 (note)"; an egress rule reads "tcp 5432 to 10.0.0.0/16". */
export function describeRule(rule: SecurityGroupRule, peer: RulePeer, direction: 'from' | 'to' = 'from'): string {
  const proto = rule.protocol === '-1' ? 'all traffic' : rule.protocol === '6' ? 'tcp' : rule.protocol;
  const ports = rule.protocol === '-1' ? '' : rule.fromPort === rule.toPort ? ` ${rule.fromPort}` : ` ${rule.fromPort}-${rule.toPort}`;
  return `${proto}${ports} ${direction} ${peer.value}${peer.description ? ` (${peer.description})` : ''}`;
}

function toGroupInfo(g: SdkSecurityGroup): SecurityGroupInfo {
  return {
    id: g.GroupId ?? '',
    name: g.GroupName ?? null,
    vpcId: g.VpcId ?? null,
    tags: tagMap(g.Tags),
    ingress: (g.IpPermissions ?? []).map(toRule),
    egress: (g.IpPermissionsEgress ?? []).map(toRule),
  };
}

function toRule(p: IpPermission): SecurityGroupRule {
  return {
    protocol: p.IpProtocol ?? '-1',
    fromPort: typeof p.FromPort === 'number' ? p.FromPort : null,
    toPort: typeof p.ToPort === 'number' ? p.ToPort : null,
    peers: [
      ...(p.UserIdGroupPairs ?? []).filter((s) => s.GroupId).map((s) => ({ kind: 'group' as const, value: s.GroupId!, description: s.Description ?? null })),
      ...(p.IpRanges ?? []).filter((s) => s.CidrIp).map((s) => ({ kind: 'cidr' as const, value: s.CidrIp!, description: s.Description ?? null })),
      ...(p.Ipv6Ranges ?? []).filter((s) => s.CidrIpv6).map((s) => ({ kind: 'cidr6' as const, value: s.CidrIpv6!, description: s.Description ?? null })),
      ...(p.PrefixListIds ?? []).filter((s) => s.PrefixListId).map((s) => ({ kind: 'prefix-list' as const, value: s.PrefixListId!, description: s.Description ?? null })),
    ],
  };
}

// ---- The VPC between a backend and the database ----

export interface SubnetInfo {
  id: string;
  name: string | null;
  cidr: string | null;
  vpcId: string | null;
  availabilityZone: string | null;
}

export interface NetworkAclEntryInfo {
  ruleNumber: number;
  egress: boolean;
  /** As EC2 stores it: "-1" (all), "6" or "tcp", "17" or "udp", ... */
  protocol: string;
  action: 'allow' | 'deny';
  /** IPv4 CIDR; null for an IPv6 entry (ipv6Cidr). */
  cidr: string | null;
  ipv6Cidr: string | null;
  /** Null when the entry names no ports (all protocols, or ICMP). */
  ports: { from: number; to: number } | null;
}

export interface NetworkAclInfo {
  id: string;
  name: string | null;
  vpcId: string | null;
  isDefault: boolean;
  associations: Array<{ associationId: string | null; subnetId: string }>;
  /** Only the numbered entries: EC2 lists the final `*` deny of a custom ACL, moto does not; both mean the same. */
  entries: NetworkAclEntryInfo[];
}

/** RDS's elastic network interface: where the endpoint's address lives. */
export interface RdsNetworkInterface {
  id: string;
  subnetId: string | null;
  privateIp: string | null;
  availabilityZone: string | null;
  securityGroupIds: string[];
}

/** How AWS describes the interfaces RDS creates for an instance. */
export const RDS_INTERFACE_DESCRIPTION = 'RDSNetworkInterface';

/** Every subnet of the VPC (one call: a VPC has a handful), with its CIDR and zone. */
export async function describeVpcSubnets(env: AwsEnvironmentConfig, vpcId: string, opts: CallOptions = {}): Promise<SubnetInfo[]> {
  const { ec2 } = awsClients(env);
  const subnets: SubnetInfo[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], NextToken }), sendOptions(opts));
    for (const s of out.Subnets ?? []) {
      if (!s.SubnetId) continue;
      subnets.push({ id: s.SubnetId, name: nameTag(s.Tags), cidr: s.CidrBlock ?? null, vpcId: s.VpcId ?? null, availabilityZone: s.AvailabilityZone ?? null });
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return subnets;
}

/** Every network ACL of the VPC with its associations and entries. */
export async function describeVpcNetworkAcls(env: AwsEnvironmentConfig, vpcId: string, opts: CallOptions = {}): Promise<NetworkAclInfo[]> {
  const { ec2 } = awsClients(env);
  const acls: NetworkAclInfo[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }], NextToken }), sendOptions(opts));
    for (const acl of out.NetworkAcls ?? []) {
      if (!acl.NetworkAclId) continue;
      acls.push({
        id: acl.NetworkAclId,
        name: nameTag(acl.Tags),
        vpcId: acl.VpcId ?? null,
        isDefault: acl.IsDefault === true,
        associations: (acl.Associations ?? []).flatMap((a) => (a.SubnetId ? [{ associationId: a.NetworkAclAssociationId ?? null, subnetId: a.SubnetId }] : [])),
        entries: (acl.Entries ?? [])
          .filter((e) => typeof e.RuleNumber === 'number' && e.RuleNumber < 32767)
          .map((e) => ({
            ruleNumber: e.RuleNumber!,
            egress: e.Egress === true,
            protocol: String(e.Protocol ?? '-1').toLowerCase(),
            action: String(e.RuleAction).toLowerCase() === 'allow' ? ('allow' as const) : ('deny' as const),
            cidr: e.CidrBlock ?? null,
            ipv6Cidr: e.Ipv6CidrBlock ?? null,
            ports: e.PortRange && typeof e.PortRange.From === 'number' && typeof e.PortRange.To === 'number' ? { from: e.PortRange.From, to: e.PortRange.To } : null,
          })),
      });
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return acls;
}

/** The interfaces RDS made in the VPC (for every instance there: the caller picks its own by subnet and zone). */
export async function describeRdsNetworkInterfaces(env: AwsEnvironmentConfig, vpcId: string, opts: CallOptions = {}): Promise<RdsNetworkInterface[]> {
  const { ec2 } = awsClients(env);
  const found: RdsNetworkInterface[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(
      new DescribeNetworkInterfacesCommand({
        Filters: [
          { Name: 'vpc-id', Values: [vpcId] },
          { Name: 'description', Values: [RDS_INTERFACE_DESCRIPTION] },
        ],
        NextToken,
      }),
      sendOptions(opts),
    );
    for (const n of out.NetworkInterfaces ?? []) {
      if (!n.NetworkInterfaceId) continue;
      found.push({
        id: n.NetworkInterfaceId,
        subnetId: n.SubnetId ?? null,
        privateIp: n.PrivateIpAddress ?? null,
        availabilityZone: n.AvailabilityZone ?? null,
        securityGroupIds: (n.Groups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
      });
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return found;
}

function nameTag(tags: Array<{ Key?: string; Value?: string }> | undefined): string | null {
  return tags?.find((t) => t.Key === 'Name')?.Value ?? null;
}

/** How EC2 matches a filter value: `*` any characters, `?` one, the rest literally. */
function filterValueMatches(pattern: string, value: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[\\s\\S]*').replace(/\?/g, '[\\s\\S]');
  return new RegExp(`^${re}$`).test(value);
}

function tagMap(tags: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string> {
  return Object.fromEntries((tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? '']));
}
