import 'server-only';
import { DescribeInstancesCommand, DescribeSecurityGroupsCommand, type Filter, type SecurityGroup as SdkSecurityGroup } from '@aws-sdk/client-ec2';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { awsClients, sendOptions, type CallOptions } from './clients';

// Security groups and backend instances, found by the environment's selectors (ids or tags).

type Selector = AwsEnvironmentConfig['dbSecurityGroup'];

export interface IngressSource {
  kind: 'group' | 'cidr' | 'cidr6' | 'prefix-list';
  value: string;
  description: string | null;
}

export interface IngressRule {
  /** "tcp", "udp", "icmp" or "-1" (all traffic). */
  protocol: string;
  fromPort: number | null;
  toPort: number | null;
  sources: IngressSource[];
}

export interface SecurityGroupInfo {
  id: string;
  name: string | null;
  vpcId: string | null;
  tags: Record<string, string>;
  ingress: IngressRule[];
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
  securityGroupIds: string[];
  /** The instance profile whose role start_application.sh reads SSM with; null when it has none. */
  instanceProfileArn: string | null;
}

/** Both groups with one DescribeSecurityGroups call when the selectors allow it, else two at once. */
export async function describeLinkboxSecurityGroups(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<LinkboxSecurityGroups> {
  const { ec2 } = awsClients(env);
  const sendOpts = sendOptions(opts);
  const fetch = async (input: { GroupIds?: string[]; Filters?: Filter[] }) => {
    const groups: SdkSecurityGroup[] = [];
    let NextToken: string | undefined;
    do {
      const out = await ec2.send(new DescribeSecurityGroupsCommand({ ...input, NextToken }), sendOpts);
      groups.push(...(out.SecurityGroups ?? []));
      NextToken = out.NextToken;
    } while (NextToken);
    return groups.map(toGroupInfo);
  };
  const combined = combinedQuery(env.dbSecurityGroup, env.backendSecurityGroup);
  if (combined) {
    const all = await fetch(combined);
    return { db: all.filter((g) => matches(g, env.dbSecurityGroup)), backend: all.filter((g) => matches(g, env.backendSecurityGroup)) };
  }
  const [db, backend] = await Promise.all([fetch(queryFor(env.dbSecurityGroup)), fetch(queryFor(env.backendSecurityGroup))]);
  return { db, backend };
}

/** Every instance the environment's selector names (terminated ones too when named by id), sorted by id. */
export async function describeBackendInstances(env: AwsEnvironmentConfig, opts: CallOptions = {}): Promise<BackendInstance[]> {
  const { ec2 } = awsClients(env);
  const sel = env.backendInstances;
  const input = 'ids' in sel ? { InstanceIds: sel.ids } : { Filters: tagFilters(sel.tags) };
  const instances: BackendInstance[] = [];
  let NextToken: string | undefined;
  do {
    const out = await ec2.send(new DescribeInstancesCommand({ ...input, NextToken }), sendOptions(opts));
    for (const r of out.Reservations ?? []) {
      for (const i of r.Instances ?? []) {
        if (!i.InstanceId) continue;
        // Terminated instances linger in DescribeInstances for an hour; they are not part of the fleet.
        if (!('ids' in sel) && (i.State?.Name === 'terminated' || i.State?.Name === 'shutting-down')) continue;
        instances.push({
          id: i.InstanceId,
          name: i.Tags?.find((t) => t.Key === 'Name')?.Value ?? null,
          state: i.State?.Name ?? null,
          privateIp: i.PrivateIpAddress ?? null,
          subnetId: i.SubnetId ?? null,
          securityGroupIds: (i.SecurityGroups ?? []).flatMap((g) => (g.GroupId ? [g.GroupId] : [])),
          instanceProfileArn: i.IamInstanceProfile?.Arn ?? null,
        });
      }
    }
    NextToken = out.NextToken;
  } while (NextToken);
  return instances.sort((a, b) => a.id.localeCompare(b.id));
}

/** Does this rule let traffic in on `port`? */
export function ruleCoversPort(rule: IngressRule, port: number): boolean {
  if (rule.protocol === '-1' || rule.protocol === 'all') return true;
  if (rule.protocol !== 'tcp' && rule.protocol !== '6') return false;
  if (rule.fromPort === null || rule.toPort === null) return false;
  return rule.fromPort <= port && port <= rule.toPort;
}

export function describeRule(rule: IngressRule, source: IngressSource): string {
  const proto = rule.protocol === '-1' ? 'all traffic' : rule.protocol;
  const ports = rule.protocol === '-1' ? '' : rule.fromPort === rule.toPort ? ` ${rule.fromPort}` : ` ${rule.fromPort}-${rule.toPort}`;
  return `${proto}${ports} from ${source.value}${source.description ? ` (${source.description})` : ''}`;
}

function toGroupInfo(g: SdkSecurityGroup): SecurityGroupInfo {
  return {
    id: g.GroupId ?? '',
    name: g.GroupName ?? null,
    vpcId: g.VpcId ?? null,
    tags: Object.fromEntries((g.Tags ?? []).filter((t) => t.Key).map((t) => [t.Key!, t.Value ?? ''])),
    ingress: (g.IpPermissions ?? []).map((p) => ({
      protocol: p.IpProtocol ?? '-1',
      fromPort: typeof p.FromPort === 'number' ? p.FromPort : null,
      toPort: typeof p.ToPort === 'number' ? p.ToPort : null,
      sources: [
        ...(p.UserIdGroupPairs ?? []).filter((s) => s.GroupId).map((s) => ({ kind: 'group' as const, value: s.GroupId!, description: s.Description ?? null })),
        ...(p.IpRanges ?? []).filter((s) => s.CidrIp).map((s) => ({ kind: 'cidr' as const, value: s.CidrIp!, description: s.Description ?? null })),
        ...(p.Ipv6Ranges ?? []).filter((s) => s.CidrIpv6).map((s) => ({ kind: 'cidr6' as const, value: s.CidrIpv6!, description: s.Description ?? null })),
        ...(p.PrefixListIds ?? []).filter((s) => s.PrefixListId).map((s) => ({ kind: 'prefix-list' as const, value: s.PrefixListId!, description: s.Description ?? null })),
      ],
    })),
  };
}

function tagFilters(tags: Record<string, string>): Filter[] {
  return Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] }));
}

function queryFor(sel: Selector): { GroupIds?: string[]; Filters?: Filter[] } {
  return 'ids' in sel ? { GroupIds: sel.ids } : { Filters: tagFilters(sel.tags) };
}

/**
 * One query that returns a superset of both selections: both by ids, or both by tags on the same
 * keys (values are OR-ed within a filter). Other mixes would AND away one of the groups.
 */
function combinedQuery(a: Selector, b: Selector): { GroupIds?: string[]; Filters?: Filter[] } | null {
  if ('ids' in a && 'ids' in b) return { GroupIds: [...new Set([...a.ids, ...b.ids])] };
  if ('tags' in a && 'tags' in b) {
    const keys = Object.keys(a.tags).sort();
    const otherKeys = Object.keys(b.tags).sort();
    if (keys.join('\0') !== otherKeys.join('\0')) return null;
    return { Filters: keys.map((k) => ({ Name: `tag:${k}`, Values: [...new Set([a.tags[k]!, b.tags[k]!])] })) };
  }
  return null;
}

function matches(g: SecurityGroupInfo, sel: Selector): boolean {
  if ('ids' in sel) return sel.ids.includes(g.id);
  return Object.entries(sel.tags).every(([k, v]) => g.tags[k] === v);
}
