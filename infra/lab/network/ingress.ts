import type { IpPermission } from '@aws-sdk/client-ec2';

// Security group rules as EC2 evaluates them for one TCP connection: an ingress rule admits the
// connection when its protocol and port range cover the port and it names one of the source's
// security groups or a CIDR that contains the source's private IP; an egress rule of the source's
// groups lets it out when it names the destination the same way. Security groups are stateful:
// replies need no rule, and a rule removed later does not cut a tracked connection.

export interface Source {
  securityGroupIds: string[];
  privateIp: string | undefined;
}

export function ingressAdmits(permissions: IpPermission[], port: number, source: Source): boolean {
  return permissions.some((p) => coversPort(p, port) && namesSource(p, source));
}

/** `permissions` are the egress rules of all the source's groups; `destination` is the peer's groups and address. */
export function egressAdmits(permissions: IpPermission[], port: number, destination: Source): boolean {
  return permissions.some((p) => coversPort(p, port) && namesSource(p, destination));
}

function coversPort(p: IpPermission, port: number): boolean {
  const protocol = String(p.IpProtocol ?? '').toLowerCase();
  if (protocol === '-1' || protocol === 'all') return true;
  if (protocol !== 'tcp' && protocol !== '6') return false;
  const from = p.FromPort ?? 0;
  const to = p.ToPort ?? 65535;
  return from <= port && port <= to;
}

function namesSource(p: IpPermission, source: Source): boolean {
  if ((p.UserIdGroupPairs ?? []).some((pair) => pair.GroupId && source.securityGroupIds.includes(pair.GroupId))) return true;
  const ip = source.privateIp;
  return !!ip && (p.IpRanges ?? []).some((range) => !!range.CidrIp && cidrContains(range.CidrIp, ip));
}

export function cidrContains(cidr: string, ip: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const a = ipv4ToInt(base ?? '');
  const b = ipv4ToInt(ip);
  if (a === undefined || b === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((b & mask) >>> 0);
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const v = Number(part);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}
