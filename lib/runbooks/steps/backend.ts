import 'server-only';
import { backendRestartLines, CONTAINER_NAME, isPlainHost, tcpProbeCommand } from '@/lib/aws/run-command';
import type { AwsCheckContext } from '@/lib/checks/context';
import { evaluateDatabasePath } from '@/lib/checks/network-path';
import { aws, sendCommand, sh } from '@/lib/checks/fixes';
import type { CheckDefinition } from '@/lib/checks/run';
import type { Evidence, Verdict } from '@/lib/checks/types';
import type { RunbookOnlyStepId } from '../types';

// The seed's checks that only make sense from a backend instance's side: TCP from the instance
// itself, the instance role's permissions, the SSM agent, the container's restart count. Every AWS
// answer comes from the run's readers (lib/checks/context.ts), shared with the status checks.

type BackendStep = CheckDefinition<AwsCheckContext, RunbookOnlyStepId>;

// ---- backend.tcp: `nc -zv <db-endpoint> <port>` from each backend instance ----

const DROPPED_HINT = 'Timed out means packets are dropped: the DB security group does not admit the backend group on this port, or a NACL/route blocks it.';

export const backendTcpStep: BackendStep = {
  id: 'backend.tcp',
  kinds: ['aws'],
  async run(ctx): Promise<Verdict> {
    const { env } = ctx;
    const nc = ctx.backendTcp();
    // When the VPC's rules drop every backend's connection, nc could only time out: say so now.
    const settled = await Promise.race([nc.then(() => null), droppedByRules(ctx)]);
    if (settled) {
      const evidence: Evidence = { 'db-endpoint': settled.host, port: env.dbPort, settledBy: 'the security groups and network ACLs (net.instance-security-groups, net.network-acls); nc would time out' };
      for (const [id, why] of settled.dropped) evidence[id] = `dropped: ${why}`;
      return {
        status: 'fail',
        summary: `${settled.dropped.size} of ${settled.dropped.size} backend instance(s) cannot open TCP to ${settled.host}:${env.dbPort}: the VPC's rules drop it`,
        evidence,
        fix: { summary: DROPPED_HINT, commands: [aws(env, 'ssm start-session', '--target', [...settled.dropped.keys()][0]!), tcpProbeCommand({ host: settled.host, port: env.dbPort })] },
      };
    }
    const probe = await nc;
    const endpointName = `${env.parameterPrefix}/db-endpoint`;
    if (probe.kind === 'no-endpoint') {
      return { status: 'skip', summary: `SSM has no ${endpointName}, so there is nothing for the backends to connect to`, evidence: { parameter: endpointName } };
    }
    if (probe.kind === 'not-a-host') {
      return {
        status: 'fail',
        summary: `${endpointName} is not a host name, so no backend can connect`,
        evidence: { 'db-endpoint': probe.endpoint.slice(0, 200) },
        fix: {
          summary: 'Write the RDS endpoint address into the parameter',
          commands: [
            aws(env, 'rds describe-db-instances', '--db-instance-identifier', sh(env.rdsInstanceId), "--query 'DBInstances[0].Endpoint.Address' --output text"),
            aws(env, 'ssm put-parameter', '--name', endpointName, '--type String --value <address> --overwrite'),
          ],
        },
      };
    }
    if (probe.kind === 'no-running-instance') {
      return {
        status: 'skip',
        summary: 'No backend instance is running, so there is nowhere to test from',
        evidence: { instances: probe.instances.map((i) => `${i.id} ${i.state}`).join(', ') || 'none found' },
      };
    }
    const answers = Object.entries(probe.reports);
    const evidence: Evidence = { 'db-endpoint': probe.host, port: probe.port, command: probe.command };
    for (const [id, r] of answers) evidence[id] = r.ok ? r.verdict : `could not run: ${r.reason}`;
    const broken = answers.flatMap(([id, r]) => (r.ok && r.verdict !== 'open' && r.verdict !== 'unknown' ? [{ id, verdict: r.verdict }] : []));
    const unknown = answers.filter(([, r]) => !r.ok || r.verdict === 'unknown').map(([id]) => id);
    const manual = [aws(env, 'ssm start-session', '--target', answers[0]![0]), tcpProbeCommand(probe)];
    if (broken.length > 0) {
      const kinds = [...new Set(broken.map((b) => b.verdict))];
      const hint = kinds.includes('timed-out')
        ? DROPPED_HINT
        : kinds.includes('refused')
          ? 'Refused means the host answered but nothing listens: the DB instance is stopped or rebooting, or the port is wrong.'
          : 'The name does not resolve: db-endpoint does not match the RDS endpoint address.';
      return {
        status: 'fail',
        summary: `${broken.length} of ${answers.length} backend instance(s) cannot open TCP to ${probe.host}:${probe.port} (${kinds.join(', ')})`,
        evidence,
        fix: { summary: hint, commands: manual },
      };
    }
    if (unknown.length > 0) {
      return {
        status: 'error',
        summary: `Could not test from ${unknown.join(', ')}: Run Command did not give a usable answer`,
        evidence,
        fix: { summary: 'Run the test by hand from the instance', commands: manual },
      };
    }
    return { status: 'pass', summary: `Every running backend instance reaches ${probe.host}:${probe.port}`, evidence };
  },
};

/**
 * Every running backend's path, as the security groups and network ACLs decide it: the reason each
 * is dropped when every one is (certain: no rule admits it), else null (only nc can tell). Null too
 * when the path cannot be read or db-endpoint is not RDS's address (nc says what happens there).
 */
async function droppedByRules(ctx: AwsCheckContext): Promise<{ host: string; dropped: Map<string, string> } | null> {
  try {
    const [params, db, instances, view] = await Promise.all([ctx.parameters(), ctx.dbInstance(), ctx.backendInstances(), ctx.networkView()]);
    const host = params.parameters['db-endpoint']?.value;
    const running = instances.filter((i) => i.state === 'running');
    // The rules decide the path to RDS's interface; a db-endpoint naming another host is nc's to answer.
    if (!host || !isPlainHost(host) || host !== db?.endpointAddress || running.length === 0) return null;
    const dropped = new Map(running.map((i) => [i.id, evaluateDatabasePath(view, i).blocked]));
    return [...dropped.values()].every((why) => why !== null) ? { host, dropped: dropped as Map<string, string> } : null;
  } catch {
    return null;
  }
}

// ---- backend.role-permissions: ssm:GetParameter on db-password and kms:Decrypt, by simulation ----

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export const backendRolePermissionsStep: BackendStep = {
  id: 'backend.role-permissions',
  kinds: ['aws'],
  async run(ctx) {
    const { env } = ctx;
    const [instances, params] = await Promise.all([ctx.backendInstances(), ctx.parameters()]);
    if (instances.length === 0) return { status: 'skip', summary: 'No backend instance found, so there is no instance role to check', evidence: {} };
    if (!params.account) return { status: 'error', summary: 'Could not check: SSM returned no parameter to learn the account from', evidence: {} };
    const account = params.account;
    const partition = partitionOf(env.region);
    const parameterArn = `arn:${partition}:ssm:${env.region}:${account}:parameter${env.parameterPrefix}/db-password`;
    const keyArn = `arn:${partition}:kms:${env.region}:${account}:key/*`;
    const profiles = [...new Set(instances.flatMap((i) => i.instanceProfileArn ?? []))];
    const roles = await Promise.all(profiles.map(async (profile) => ({ profile, role: await ctx.profileRole(profile) })));

    const evidence: Evidence = { account, parameter: parameterArn };
    const problems: string[] = [];
    for (const i of instances.filter((x) => !x.instanceProfileArn)) problems.push(`${i.id} has no instance profile`);
    for (const r of roles) if (!r.role) problems.push(`instance profile ${r.profile} has no role`);

    const roleArns = [...new Set(roles.flatMap((r) => (r.role ? [r.role] : [])))];
    // One simulation per role, with every action it needs.
    const decisions = await Promise.all(
      roleArns.map(async (role) => ({
        role,
        results: await ctx.simulation(role, [
          { action: 'ssm:GetParameter', resource: parameterArn },
          { action: 'kms:Decrypt', resource: keyArn },
        ]),
      })),
    );
    for (const { role, results } of decisions) {
      const roleName = role.split('/').pop();
      for (const r of results) {
        evidence[`${roleName} ${r.action}`] = r.decision;
        if (r.decision !== 'allowed') problems.push(`${roleName} is ${r.decision === 'explicitDeny' ? 'explicitly denied' : 'not allowed'} ${r.action}`);
      }
    }
    if (problems.length === 0) {
      return { status: 'pass', summary: `The backend role${roleArns.length > 1 ? 's' : ''} may read ${env.parameterPrefix}/db-password and decrypt it`, evidence };
    }
    const roleName = roleArns[0]?.split('/').pop() ?? '<backend-role>';
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: `arn:${partition}:ssm:${env.region}:${account}:parameter${env.parameterPrefix}/*` },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': `ssm.${env.region}.amazonaws.com` } } },
      ],
    });
    return {
      status: 'fail',
      summary: `The backends cannot read their database password: ${problems.join('; ')}`,
      evidence,
      fix: {
        summary: `Grant the backend role ssm:GetParameter on ${env.parameterPrefix}/* and kms:Decrypt for SSM, then restart the containers`,
        commands: [
          ...roleArns.map((roleArn) =>
            aws(
              env,
              'iam simulate-principal-policy --policy-source-arn',
              sh(roleArn),
              '--action-names ssm:GetParameter kms:Decrypt --resource-arns',
              sh(parameterArn),
              "--query 'EvaluationResults[].[EvalActionName,EvalDecision]' --output text",
            ),
          ),
          aws(env, 'iam put-role-policy --role-name', sh(roleName), '--policy-name linkbox-ssm-read --policy-document', sh(policy)),
        ],
      },
    };
  },
};

// ---- backend.agent-online: DescribeInstanceInformation ----

export const backendAgentOnlineStep: BackendStep = {
  id: 'backend.agent-online',
  kinds: ['aws'],
  async run(ctx) {
    const { env } = ctx;
    const instances = (await ctx.backendInstances()).filter((i) => i.state === 'running');
    if (instances.length === 0) return { status: 'skip', summary: 'No backend instance is running, so no agent can be online', evidence: {} };
    const ids = instances.map((i) => i.id);
    const pings = await ctx.agentPings(ids);
    const evidence: Evidence = {};
    const offline: string[] = [];
    for (const id of ids) {
      const ping = pings[id] ?? 'not registered';
      evidence[id] = ping;
      if (ping !== 'Online') offline.push(`${id} (${ping})`);
    }
    if (offline.length === 0) return { status: 'pass', summary: 'The SSM agent is online on every running backend instance', evidence };
    return {
      status: 'fail',
      summary: `The SSM agent is not online on ${offline.join(', ')}: deploys, restarts and Session Manager cannot reach it`,
      evidence,
      fix: {
        summary: 'Check the agent on the instance (EC2 serial console or SSH) and that the instance role has AmazonSSMManagedInstanceCore',
        commands: [aws(env, 'ssm describe-instance-information', `--filters Key=InstanceIds,Values=${ids.join(',')}`), 'sudo systemctl restart amazon-ssm-agent'],
      },
    };
  },
};

// ---- backend.restart-count: `docker inspect`, shared with containers.running ----

/** Restarts beyond this mean a crash loop rather than a deploy or a rotation's restart. */
export const RESTART_COUNT_WARN = 3;

export const backendRestartCountStep: BackendStep = {
  id: 'backend.restart-count',
  kinds: ['aws'],
  async run(ctx) {
    const { env } = ctx;
    const running = (await ctx.backendInstances()).filter((i) => i.state === 'running');
    if (running.length === 0) return { status: 'skip', summary: 'No backend instance is running', evidence: {} };
    const { reports } = await ctx.containers();
    const evidence: Evidence = {};
    const looping: string[] = [];
    const down: Array<{ id: string; state: string }> = [];
    const unknown: string[] = [];
    for (const { id } of running) {
      const report = reports[id];
      if (!report || !report.ok) {
        evidence[id] = `could not inspect: ${report && !report.ok ? report.reason : 'no answer'}`;
        unknown.push(id);
        continue;
      }
      const c = report.container;
      const restarts = c.restartCount ?? 0;
      const exit = c.exitCode !== null && c.status !== 'running' ? `, exit ${c.exitCode}` : '';
      evidence[id] = `${c.status}, restarted ${restarts}×${exit}${c.error ? `, ${c.error.slice(0, 200)}` : ''}`;
      if (c.status !== 'running') down.push({ id, state: `${c.status}${exit}` });
      else if (restarts >= RESTART_COUNT_WARN) looping.push(`${id} (${restarts} restarts)`);
    }
    const commands = [
      aws(env, 'ssm start-session', '--target', running[0]!.id),
      `sudo docker ps -a --filter name=${CONTAINER_NAME}`,
      `sudo docker logs --tail 100 ${CONTAINER_NAME}`,
    ];
    if (down.length > 0) {
      return {
        status: 'fail',
        summary: `The container is not running on ${down.map((d) => `${d.id} (${d.state})`).join(', ')}`,
        evidence,
        fix: {
          summary: 'Read its last log lines, then start it with the deploy scripts (start_application.sh re-reads SSM), or use "Restart containers" on the environment page',
          commands: [...commands, sendCommand(env, down.map((d) => d.id), backendRestartLines(env))],
        },
      };
    }
    if (unknown.length > 0) return { status: 'error', summary: `Could not inspect the container on ${unknown.join(', ')}`, evidence, fix: { summary: 'Inspect it by hand', commands } };
    if (looping.length > 0) {
      return {
        status: 'warn',
        summary: `The container keeps restarting on ${looping.join(', ')}`,
        evidence,
        fix: { summary: 'Read why it exits; a crash right after start is usually a DATABASE_URL it cannot use', commands },
      };
    }
    return { status: 'pass', summary: 'The container is running on every backend instance without a restart loop', evidence };
  },
};

export const BACKEND_STEPS = [backendTcpStep, backendRolePermissionsStep, backendAgentOnlineStep, backendRestartCountStep];
