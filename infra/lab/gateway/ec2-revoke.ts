import { randomUUID } from 'node:crypto';
import { DescribeSecurityGroupsCommand, EC2Client, RevokeSecurityGroupEgressCommand, RevokeSecurityGroupIngressCommand, type IpPermission } from '@aws-sdk/client-ec2';
import type { AwsReply } from '../contract';
import type { CallHandler } from './server';

// On AWS a rule is revoked by what it admits; its description does not take part. moto only
// revokes a described rule when the revoke repeats the description, so `aws ec2
// revoke-security-group-ingress --source-group ...` would fail on the lab for a rule someone added
// with a description. When moto says InvalidPermission.NotFound, the same revoke is retried with
// the descriptions moto holds (directly against moto, so it is not counted twice).

export function createRevokeByWhatItAdmits(motoUrl: string, region: string): { handler: CallHandler; stop(): void } {
  const ec2 = new EC2Client({ region, endpoint: motoUrl, credentials: { accessKeyId: 'lab-internal', secretAccessKey: 'lab-internal' }, maxAttempts: 1 });

  const handler: CallHandler = async (call, forward) => {
    if (call.service !== 'ec2' || (call.action !== 'RevokeSecurityGroupIngress' && call.action !== 'RevokeSecurityGroupEgress')) return undefined;
    const reply = await forward();
    const groupId = call.input.GroupId;
    if (reply.status < 400 || !reply.body.includes('InvalidPermission.NotFound') || typeof groupId !== 'string') return reply;
    const requested = ipPermissionsFromForm(call.input as Record<string, string>);
    if (requested.length === 0) return reply;

    const ingress = call.action === 'RevokeSecurityGroupIngress';
    try {
      const { SecurityGroups } = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }));
      const existing = (ingress ? SecurityGroups?.[0]?.IpPermissions : SecurityGroups?.[0]?.IpPermissionsEgress) ?? [];
      const described = withDescriptions(requested, existing);
      if (!described) return reply;
      if (ingress) await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: groupId, IpPermissions: described }));
      else await ec2.send(new RevokeSecurityGroupEgressCommand({ GroupId: groupId, IpPermissions: described }));
    } catch {
      return reply;
    }
    return success(call.action);
  };

  return { handler, stop: () => ec2.destroy() };
}

/** The EC2 query form's IpPermissions.N.* keys as IpPermission objects. */
export function ipPermissionsFromForm(form: Record<string, string>): IpPermission[] {
  type Entries = Map<string, Record<string, string>>;
  const permissions = new Map<string, { fields: Record<string, string>; lists: Record<string, Entries> }>();
  for (const [key, value] of Object.entries(form)) {
    const m = /^IpPermissions\.(\d+)\.(?:(\w+)|(Groups|IpRanges|Ipv6Ranges)\.(\d+)\.(\w+))$/.exec(key);
    if (!m) continue;
    let p = permissions.get(m[1]!);
    if (!p) permissions.set(m[1]!, (p = { fields: {}, lists: {} }));
    if (m[2]) {
      p.fields[m[2]] = value;
    } else {
      const entries = (p.lists[m[3]!] ??= new Map());
      const entry = entries.get(m[4]!) ?? {};
      entry[m[5]!] = value;
      entries.set(m[4]!, entry);
    }
  }
  const values = (entries: Entries | undefined) => (entries ? [...entries.values()] : undefined);
  return [...permissions.values()].map(({ fields, lists }) => ({
    IpProtocol: fields.IpProtocol,
    FromPort: fields.FromPort === undefined ? undefined : Number(fields.FromPort),
    ToPort: fields.ToPort === undefined ? undefined : Number(fields.ToPort),
    UserIdGroupPairs: values(lists.Groups),
    IpRanges: values(lists.IpRanges),
    Ipv6Ranges: values(lists.Ipv6Ranges),
  }));
}

/** The requested permissions as moto holds them (descriptions included), or undefined if any part does not exist. */
function withDescriptions(requested: IpPermission[], existing: IpPermission[]): IpPermission[] | undefined {
  const protocol = (p: IpPermission) => {
    const v = String(p.IpProtocol ?? '').toLowerCase();
    return v === 'all' ? '-1' : v === '6' ? 'tcp' : v === '17' ? 'udp' : v;
  };
  const out: IpPermission[] = [];
  for (const want of requested) {
    const have = existing.find(
      (p) => protocol(p) === protocol(want) && (protocol(want) === '-1' || (p.FromPort === want.FromPort && p.ToPort === want.ToPort)),
    );
    if (!have) return undefined;
    const pairs = (want.UserIdGroupPairs ?? []).map((w) => have.UserIdGroupPairs?.find((h) => h.GroupId === w.GroupId));
    const ranges = (want.IpRanges ?? []).map((w) => have.IpRanges?.find((h) => h.CidrIp === w.CidrIp));
    const ranges6 = (want.Ipv6Ranges ?? []).map((w) => have.Ipv6Ranges?.find((h) => h.CidrIpv6 === w.CidrIpv6));
    if ([...pairs, ...ranges, ...ranges6].some((x) => !x)) return undefined;
    out.push({
      IpProtocol: have.IpProtocol,
      FromPort: have.FromPort,
      ToPort: have.ToPort,
      UserIdGroupPairs: pairs.length ? pairs.map((p) => ({ GroupId: p!.GroupId, Description: p!.Description })) : undefined,
      IpRanges: ranges.length ? ranges.map((r) => ({ CidrIp: r!.CidrIp, Description: r!.Description })) : undefined,
      Ipv6Ranges: ranges6.length ? ranges6.map((r) => ({ CidrIpv6: r!.CidrIpv6, Description: r!.Description })) : undefined,
    });
  }
  return out;
}

function success(action: string): AwsReply {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml;charset=UTF-8' },
    body:
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${randomUUID()}</requestId><return>true</return></${action}Response>`,
  };
}
