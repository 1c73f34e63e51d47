import 'server-only';
import { describeRule, ruleCoversPort, type BackendInstance, type NetworkAclInfo } from '@/lib/aws/ec2';
import type { AwsCheckContext } from './context';
import { aws, sh } from './fixes';
import {
  aclOfSubnet,
  databaseEnds,
  describeLeg,
  describeSecurityGroupBlock,
  evaluateNetworkAcls,
  evaluateSecurityGroups,
  LINUX_EPHEMERAL_PORTS,
  RECOMMENDED_EPHEMERAL_PORTS,
  type AclLegVerdict,
  type AclPath,
  type DatabaseNetworkView,
} from './network-path';
import type { CheckDefinition } from './run';
import type { CheckFix, Evidence } from './types';

// Each running backend's own path to the database, as the VPC decides it (lib/checks/network-path.ts):
// is one of its own security groups (or its private address) admitted by the DB's groups, and do
// the network ACLs of its subnet and of the DB's subnet pass the request and the reply? A backend
// that fails here has its connections dropped: they time out, with nothing in any log to say why.
// The console's own path (the tunnel, or its own group) is net.tcp's.

type Env = AwsCheckContext['env'];

export const instanceSecurityGroupsCheck: CheckDefinition<AwsCheckContext> = {
  id: 'net.instance-security-groups',
  kinds: ['aws'],
  async run(ctx) {
    const [instances, view, configured] = await Promise.all([ctx.backendInstances(), ctx.networkView(), ctx.securityGroups()]);
    const running = instances.filter((i) => i.state === 'running');
    if (running.length === 0) return { status: 'skip', summary: 'No backend instance is running, so there is no path to check', evidence: {} };
    const evidence: Evidence = { databaseGroups: `${view.database.securityGroupIds.map((id) => groupName(view, id)).join(', ') || 'none'} on tcp ${view.port}` };
    const blocked: Array<{ instance: BackendInstance; reason: string; commands: string[]; summary: string }> = [];
    const unknown: string[] = [];
    for (const i of running) {
      const path = evaluateSecurityGroups(view, i);
      const who = `groups ${i.securityGroupIds.map((id) => groupName(view, id)).join(', ') || 'none'}, address ${i.privateIp ?? 'none'}`;
      if (path.verdict === 'open') {
        evidence[label(i)] = `admitted: ${path.ingress.groupId} allows ${describeRule(path.ingress.rule, path.ingress.peer)}; out through ${path.egress.groupId} (${describeRule(path.egress.rule, path.egress.peer, 'to')}) — ${who}`;
      } else if (path.verdict === 'unknown') {
        unknown.push(i.id);
        evidence[label(i)] = `could not tell: ${path.reason}`;
      } else {
        const reason = describeSecurityGroupBlock(view, i, path);
        evidence[label(i)] = `NOT admitted: ${reason} — ${who}`;
        if (path.reason === 'ingress') evidence.databaseRules = dbRulesText(view);
        blocked.push({ instance: i, reason, ...securityGroupFix(ctx.env, view, i, path.reason, configured.backend[0]?.id ?? null) });
      }
    }
    if (blocked.length > 0) {
      return {
        status: 'fail',
        summary: `${blocked.map((b) => `${label(b.instance)}: ${b.reason}`).join('; ')} — its connections to the database are dropped and time out`,
        evidence,
        fix: { summary: [...new Set(blocked.map((b) => b.summary))].join(' '), commands: [...new Set(blocked.flatMap((b) => b.commands))] },
      };
    }
    if (unknown.length > 0) return { status: 'error', summary: `Could not check the security groups of ${unknown.join(', ')}`, evidence };
    return { status: 'pass', summary: `The database's security groups admit every running backend (${running.length}) on tcp ${view.port}, and each may send there`, evidence };
  },
};

function securityGroupFix(env: Env, view: DatabaseNetworkView, i: BackendInstance, reason: 'other-vpc' | 'egress' | 'ingress', backendGroup: string | null): { summary: string; commands: string[] } {
  const dbGroup = view.database.securityGroupIds[0] ?? '<db-security-group-id>';
  const port = String(view.port);
  if (reason === 'other-vpc') {
    return {
      summary: `Run ${i.id} in the database's VPC (${view.vpcId}): security groups of another VPC cannot be admitted without peering.`,
      commands: [aws(env, 'ec2 describe-instances', '--instance-ids', i.id, "--query 'Reservations[].Instances[].[InstanceId,VpcId,SubnetId]' --output table")],
    };
  }
  if (reason === 'egress') {
    const group = i.securityGroupIds[0] ?? '<its-security-group-id>';
    return {
      summary: `Let ${i.id}'s group send to the database on tcp ${port}.`,
      commands: [aws(env, 'ec2 authorize-security-group-egress', '--group-id', group, '--ip-permissions', sh(`IpProtocol=tcp,FromPort=${port},ToPort=${port},UserIdGroupPairs=[{GroupId=${dbGroup}}]`))],
    };
  }
  const groupAdmitted = backendGroup !== null && view.database.securityGroupIds.some((id) => view.groups.get(id)?.ingress.some((r) => r.peers.some((p) => p.kind === 'group' && p.value === backendGroup)));
  if (backendGroup && groupAdmitted && !i.securityGroupIds.includes(backendGroup)) {
    return {
      summary: `Put ${i.id} back in the backend security group ${backendGroup} (its other groups stay).`,
      commands: [aws(env, 'ec2 modify-instance-attribute', '--instance-id', i.id, '--groups', ...i.securityGroupIds, backendGroup)],
    };
  }
  const source = backendGroup ?? i.securityGroupIds[0] ?? '<backend-security-group-id>';
  return {
    summary: `Admit the backend group ${source} on tcp ${port}, so every backend gets in whatever its address.`,
    commands: [aws(env, 'ec2 authorize-security-group-ingress', '--group-id', dbGroup, '--protocol tcp --port', port, '--source-group', source)],
  };
}

export const networkAclsCheck: CheckDefinition<AwsCheckContext> = {
  id: 'net.network-acls',
  kinds: ['aws'],
  async run(ctx) {
    const [instances, view] = await Promise.all([ctx.backendInstances(), ctx.networkView()]);
    const running = instances.filter((i) => i.state === 'running');
    if (running.length === 0) return { status: 'skip', summary: 'No backend instance is running, so there is no path to check', evidence: {} };
    const name = subnetNamer(view);
    const ends = databaseEnds(view);
    const evidence: Evidence = {
      database:
        ends[0]?.known === 'interface'
          ? `${view.database.networkInterface!.privateIp} in ${name(ends[0].subnetId)} (RDS's interface ${view.database.networkInterface!.id})`
          : `somewhere in ${ends.map((e) => name(e.subnetId)).join(' or ') || 'no known subnet'}: RDS's network interface was not found, so its whole subnet is assumed`,
      replyPorts: `${LINUX_EPHEMERAL_PORTS.from}-${LINUX_EPHEMERAL_PORTS.to}, where the backends' Linux picks its source ports: every reply must get back there`,
    };
    const paths = running.map((i) => ({ instance: i, path: evaluateNetworkAcls(view, i) }));
    const blocked: Array<{ instance: BackendInstance; legs: AclLegVerdict[] }> = [];
    const unknown: string[] = [];
    for (const { instance, path } of paths) {
      if (path.verdict === 'unknown') {
        unknown.push(instance.id);
        evidence[label(instance)] = `could not tell: ${path.reason}`;
      } else if (path.verdict === 'open') {
        evidence[label(instance)] = path.sameSubnet ? 'in the database\'s subnet: no network ACL is crossed' : `passes: ${path.legs.map((l) => legPass(l, name)).join('; ')}`;
      } else {
        const legs = path.legs.filter((l) => l.verdict !== 'allowed');
        evidence[label(instance)] = `DROPPED: ${legs.map((l) => describeLeg(l, name)).join('; ')}`;
        blocked.push({ instance, legs });
      }
    }
    if (blocked.length > 0) {
      return {
        status: 'fail',
        summary: `${blocked.map((b) => `${label(b.instance)}: ${describeLeg(b.legs[0]!, name)}`).join('; ')} — its connections to the database hang and time out`,
        evidence,
        fix: aclFix(ctx.env, view, paths, blocked),
      };
    }
    if (unknown.length > 0) return { status: 'error', summary: `Could not check the network ACLs on the path of ${unknown.join(', ')}`, evidence };
    return { status: 'pass', summary: `The network ACLs pass every running backend's (${running.length}) requests to tcp ${view.port} and the replies to ports ${LINUX_EPHEMERAL_PORTS.from}-${LINUX_EPHEMERAL_PORTS.to}`, evidence };
  },
};

function legPass(l: AclLegVerdict, name: (id: string) => string): string {
  const rules = [...new Set(l.decisions.map((d) => d.rule))].join(', ');
  return `${l.leg} ${l.direction === 'egress' ? 'out of' : 'into'} ${name(l.subnetId)} (${l.acl?.id} ${l.direction} rule ${rules})`;
}

/**
 * The commands that open each dropped leg, narrowest first: a subnet whose ACL has nothing for this
 * traffic goes back to the ACL its sibling subnets use, when that one passes everything; a deny entry
 * that decides is removed; otherwise an allow entry is added (replies: 1024-65535, as AWS advises).
 */
function aclFix(env: Env, view: DatabaseNetworkView, all: Array<{ instance: BackendInstance; path: AclPath }>, blocked: Array<{ instance: BackendInstance; legs: AclLegVerdict[] }>): CheckFix {
  const commands = new Set<string>();
  const summaries = new Set<string>();
  const moved = new Set<string>();
  for (const { legs } of blocked) {
    for (const leg of legs) {
      if (!leg.acl) {
        summaries.add(`EC2 shows no network ACL for ${leg.subnetId}: look at the VPC's ACLs.`);
        commands.add(aws(env, 'ec2 describe-network-acls', '--filters', `Name=association.subnet-id,Values=${leg.subnetId}`));
        continue;
      }
      if (moved.has(leg.subnetId)) continue;
      const denies = leg.decisions.filter((d) => !d.allowed);
      if (denies.every((d) => d.entry === null)) {
        const sibling = siblingAcl(view, all, leg);
        if (sibling) {
          moved.add(leg.subnetId);
          summaries.add(`Give ${leg.subnetId} the network ACL its sibling subnets use (${sibling.id}): ${leg.acl.id} has no entry for this traffic.`);
          commands.add(aws(env, 'ec2 replace-network-acl-association', '--association-id', sibling.association, '--network-acl-id', sibling.id));
          continue;
        }
      }
      for (const d of denies) {
        if (d.entry) {
          summaries.add(`Remove the deny entry that drops it (or narrow it so it no longer matches the backends).`);
          commands.add(aws(env, 'ec2 delete-network-acl-entry', '--network-acl-id', leg.acl.id, `--${leg.direction}`, '--rule-number', String(d.entry.ruleNumber)));
        } else {
          const ports = leg.leg === 'request' ? leg.ports : RECOMMENDED_EPHEMERAL_PORTS;
          const cidr = view.subnets.get(leg.remoteSubnetId)?.cidr ?? `${d.addresses.split('-')[0]}/32`;
          summaries.add(`Add the missing allow entry (replies need ${RECOMMENDED_EPHEMERAL_PORTS.from}-${RECOMMENDED_EPHEMERAL_PORTS.to}, which covers Linux's ${LINUX_EPHEMERAL_PORTS.from}-${LINUX_EPHEMERAL_PORTS.to}).`);
          commands.add(
            aws(
              env,
              'ec2 create-network-acl-entry',
              '--network-acl-id',
              leg.acl.id,
              `--${leg.direction}`,
              '--rule-number',
              String(freeRuleNumber(leg.acl, leg.direction === 'egress')),
              '--protocol tcp --port-range',
              `From=${ports.from},To=${ports.to}`,
              '--cidr-block',
              cidr,
              '--rule-action allow',
            ),
          );
        }
      }
    }
  }
  return { summary: [...summaries].join(' '), commands: [...commands] };
}

/**
 * Another ACL already used by a subnet of the same tier (the DB subnet group, or the backends'
 * subnets) that would pass every running backend's traffic in this leg's subnet's place.
 */
function siblingAcl(view: DatabaseNetworkView, all: Array<{ instance: BackendInstance; path: AclPath }>, leg: AclLegVerdict): { id: string; association: string } | null {
  const own = leg.acl!;
  const association = own.associations.find((a) => a.subnetId === leg.subnetId)?.associationId;
  if (!association) return null;
  const dbTier = view.database.subnetIds.includes(leg.subnetId);
  const siblings = dbTier ? view.database.subnetIds : all.flatMap(({ instance }) => (instance.subnetId ? [instance.subnetId] : []));
  const candidates = [...new Set(siblings.filter((s) => s !== leg.subnetId).map((s) => aclOfSubnet(view.acls, s)))].filter((a): a is NetworkAclInfo => !!a && a.id !== own.id);
  for (const candidate of candidates) {
    const moved: DatabaseNetworkView = {
      ...view,
      acls: view.acls.map((a) => {
        const rest = a.associations.filter((x) => x.subnetId !== leg.subnetId);
        return a.id === candidate.id ? { ...a, associations: [...rest, { associationId: association, subnetId: leg.subnetId }] } : { ...a, associations: rest };
      }),
    };
    if (all.every(({ instance }) => evaluateNetworkAcls(moved, instance).verdict === 'open')) return { id: candidate.id, association };
  }
  return null;
}

/** A rule number no entry of this direction uses: any will do when no entry matched the traffic. */
function freeRuleNumber(acl: NetworkAclInfo, egress: boolean): number {
  const used = new Set(acl.entries.filter((e) => e.egress === egress).map((e) => e.ruleNumber));
  let n = 100;
  while (used.has(n)) n += 1;
  return n;
}

function label(i: BackendInstance): string {
  return i.name ? `${i.id} (${i.name})` : i.id;
}

function groupName(view: DatabaseNetworkView, id: string): string {
  const name = view.groups.get(id)?.name;
  return name ? `${id} (${name})` : id;
}

function subnetNamer(view: DatabaseNetworkView): (id: string) => string {
  return (id) => {
    const s = view.subnets.get(id);
    return s?.name ? `${id} (${s.name})` : id;
  };
}

function dbRulesText(view: DatabaseNetworkView): string {
  const rules = view.database.securityGroupIds.flatMap((id) =>
    (view.groups.get(id)?.ingress ?? []).filter((r) => ruleCoversPort(r, view.port)).flatMap((r) => r.peers.map((p) => `${id}: ${describeRule(r, p)}`)),
  );
  return rules.length ? rules.join('; ') : `no rule on tcp ${view.port}`;
}

export const BACKEND_NETWORK_CHECKS: CheckDefinition<AwsCheckContext>[] = [instanceSecurityGroupsCheck, networkAclsCheck];
