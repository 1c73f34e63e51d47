import 'server-only';
import { describeRule, ruleCoversPort, type RulePeer, type SecurityGroupInfo, type SecurityGroupRule } from '@/lib/aws/ec2';
import type { AwsCheckContext } from './context';
import { cidrRange, parseIpv4 } from './network-path';
import { aws, describeGroupsCommand, selectorText, sh } from './fixes';
import type { CheckDefinition } from './run';
import type { Evidence } from './types';

// The DB security group: it must admit the backends on the DB port, and nothing from anywhere.
// Whether each running instance is really admitted (by one of its own groups, or its address) is
// net.instance-security-groups' question; this one asks for the fleet's rule.

export const backendIngressCheck: CheckDefinition<AwsCheckContext> = {
  id: 'sg.backend-ingress',
  kinds: ['aws'],
  async run(ctx) {
    const { db, backend } = await ctx.securityGroups();
    const port = ctx.env.dbPort;
    const evidence: Evidence = {
      dbSecurityGroups: groupList(db),
      backendSecurityGroups: groupList(backend),
      rulesOnDbPort: rulesOnPort(db, port),
    };
    if (db.length === 0) return noGroup(ctx, 'DB', ctx.env.dbSecurityGroup, evidence);
    if (backend.length === 0) return noGroup(ctx, 'backend', ctx.env.backendSecurityGroup, evidence);
    const backendIds = new Set(backend.map((g) => g.id));
    const admitting = db.flatMap((g) => g.ingress.filter((r) => ruleCoversPort(r, port) && r.peers.some((s) => s.kind === 'group' && backendIds.has(s.value))).map((r) => ({ g, r })));
    if (admitting.length > 0) {
      const first = admitting[0]!;
      const peer = first.r.peers.find((s) => s.kind === 'group' && backendIds.has(s.value))!;
      return { status: 'pass', summary: `${first.g.id} admits ${peer.value} on tcp ${port}`, evidence };
    }
    const source = backend[0]!;
    const authorize = {
      summary: `Allow the backend security group in on port ${port}.`,
      commands: db.map((g) => aws(ctx.env, 'ec2 authorize-security-group-ingress', '--group-id', g.id, '--protocol tcp --port', String(port), '--source-group', source.id)),
    };
    // Address rules may still admit some instances: that works until an instance is replaced.
    const byAddress = (await ctx.backendInstances()).filter((i) => i.state === 'running' && admittedByAddress(db, port, i.privateIp));
    if (byAddress.length > 0) {
      evidence.admittedByAddressOnly = byAddress.map((i) => `${i.id} (${i.privateIp})`).join(', ');
      return {
        status: 'warn',
        summary: `No rule admits the backend group (${[...backendIds].join(', ')}) on tcp ${port}; only address rules admit ${byAddress.map((i) => i.id).join(', ')} (see net.instance-security-groups): a replaced instance gets another address and is cut off`,
        evidence,
        fix: authorize,
      };
    }
    return {
      status: 'fail',
      summary: `${db.map((g) => g.id).join(', ')} has no rule admitting the backends (${[...backendIds].join(', ')}) on tcp ${port}: connections from the backends time out`,
      evidence,
      fix: authorize,
    };
  },
};

function admittedByAddress(db: SecurityGroupInfo[], port: number, ip: string | null): boolean {
  const address = ip ? parseIpv4(ip) : null;
  if (address === null) return false;
  return db.some((g) =>
    g.ingress.some(
      (r) =>
        ruleCoversPort(r, port) &&
        r.peers.some((p) => {
          const range = p.kind === 'cidr' ? cidrRange(p.value) : null;
          return !!range && range.lo <= address && address <= range.hi;
        }),
    ),
  );
}

export const noPublicIngressCheck: CheckDefinition<AwsCheckContext> = {
  id: 'sg.no-public-ingress',
  kinds: ['aws'],
  async run(ctx) {
    const { db } = await ctx.securityGroups();
    const port = ctx.env.dbPort;
    const evidence: Evidence = { dbSecurityGroups: groupList(db), rulesOnDbPort: rulesOnPort(db, port) };
    if (db.length === 0) {
      return { status: 'skip', summary: `No DB security group matches ${selectorText(ctx.env.dbSecurityGroup)} (see sg.backend-ingress)`, evidence };
    }
    const open = db.flatMap((g) =>
      g.ingress.filter((r) => ruleCoversPort(r, port)).flatMap((r) => r.peers.filter(isEverywhere).map((s) => ({ g, r, s }))),
    );
    if (open.length === 0) return { status: 'pass', summary: `Nothing admits 0.0.0.0/0 or ::/0 on tcp ${port}`, evidence };
    evidence.openRules = open.map(({ g, r, s }) => `${g.id}: ${describeRule(r, s)}`).join('; ');
    return {
      status: 'fail',
      summary: `${open.map(({ g, r, s }) => `${g.id} admits ${s.value} (${portText(r)})`).join('; ')}: the database port is open to the internet`,
      evidence,
      fix: { summary: 'Remove the open rules; the backends get in through their security group.', commands: open.map(({ g, r, s }) => revokeCommand(ctx, g.id, r, s)) },
    };
  },
};

function isEverywhere(s: RulePeer): boolean {
  return (s.kind === 'cidr' && s.value === '0.0.0.0/0') || (s.kind === 'cidr6' && s.value === '::/0');
}

function revokeCommand(ctx: AwsCheckContext, groupId: string, r: SecurityGroupRule, s: RulePeer): string {
  const range = s.kind === 'cidr6' ? `Ipv6Ranges=[{CidrIpv6=${s.value}}]` : `IpRanges=[{CidrIp=${s.value}}]`;
  const ports = r.protocol === '-1' ? '' : `FromPort=${r.fromPort},ToPort=${r.toPort},`;
  return aws(ctx.env, 'ec2 revoke-security-group-ingress', '--group-id', groupId, '--ip-permissions', sh(`IpProtocol=${r.protocol},${ports}${range}`));
}

function portText(r: SecurityGroupRule): string {
  if (r.protocol === '-1') return 'all traffic';
  return r.fromPort === r.toPort ? `${r.protocol} ${r.fromPort}` : `${r.protocol} ${r.fromPort}-${r.toPort}`;
}

export function groupList(groups: SecurityGroupInfo[]): string {
  return groups.length ? groups.map((g) => (g.name ? `${g.id} (${g.name})` : g.id)).join(', ') : 'none found';
}

function rulesOnPort(groups: SecurityGroupInfo[], port: number): string {
  const rules = groups.flatMap((g) => g.ingress.filter((r) => ruleCoversPort(r, port)).flatMap((r) => r.peers.map((s) => `${g.id}: ${describeRule(r, s)}`)));
  return rules.length ? rules.join('; ') : 'none';
}

function noGroup(ctx: AwsCheckContext, which: string, sel: AwsCheckContext['env']['dbSecurityGroup'], evidence: Evidence) {
  return {
    status: 'fail' as const,
    summary: `No ${which} security group matches ${selectorText(sel)}`,
    evidence,
    fix: { summary: `Find the ${which} security group and fix its selector in the environments file.`, commands: [describeGroupsCommand(ctx.env, sel)] },
  };
}

export const SECURITY_GROUP_CHECKS = [backendIngressCheck, noPublicIngressCheck];
