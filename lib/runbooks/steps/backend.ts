import 'server-only';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeInstanceInformationCommand, GetCommandInvocationCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { cached } from '@/lib/aws/cache';
import { awsClients } from '@/lib/aws/clients';
import { describeAwsError } from '@/lib/aws/errors';
import type { AwsCheckContext } from '@/lib/checks/context';
import type { Evidence } from '@/lib/checks/types';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { restartCommands } from '@/lib/deploy/rollout';
import { endpointFlag, pause, shellQuote, type StepContext, type StepOutcome } from './context';

// The seed's checks that only make sense from a backend instance's side: TCP from the instance
// itself, the instance role's permissions, the SSM agent, the container's restart count.

type Ctx = StepContext<AwsCheckContext>;

/** Run Command and IAM answers are slower and change rarely, so they are kept longer than a Describe. */
const SLOW_ANSWER_TTL_FACTOR = 4;

function aws(env: AwsEnvironmentConfig, rest: string): string {
  return `aws ${rest} --region ${env.region}${endpointFlag(env)}`;
}

/** The db-endpoint the backends read: what their nc must reach. */
async function ssmDbEndpoint(ctx: Ctx): Promise<string | null> {
  return (await ctx.reads.parameters()).parameters['db-endpoint']?.value ?? null;
}

// ---- Run Command ----

export interface CommandAnswer {
  status: string;
  exitCode: number | null;
  output: string;
  error: string;
}

/**
 * Runs one shell line on one instance and waits for its answer within the step's budget. The line
 * is built only from values read from AWS and checked before this call: never from user input.
 */
export async function runOnInstance(ctx: Ctx, instanceId: string, line: string): Promise<CommandAnswer> {
  const { ssm } = awsClients(ctx.env);
  const sent = await ssm.send(
    new SendCommandCommand({
      InstanceIds: [instanceId],
      DocumentName: 'AWS-RunShellScript',
      Comment: 'linkbox-ops-console troubleshooting',
      Parameters: { commands: [line] },
    }),
    { abortSignal: ctx.signal },
  );
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new Error('SendCommand returned no command id');
  for (let wait = 150; ; wait = Math.min(wait * 2, 500)) {
    await pause(wait, ctx.signal);
    try {
      const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }), {
        abortSignal: ctx.signal,
      });
      const status = inv.Status ?? 'Pending';
      if (['Pending', 'InProgress', 'Delayed'].includes(status)) continue;
      return {
        status,
        exitCode: inv.ResponseCode ?? null,
        output: inv.StandardOutputContent ?? '',
        error: inv.StandardErrorContent ?? '',
      };
    } catch (err) {
      // The invocation is registered asynchronously; right after SendCommand it may not exist yet.
      if ((err as { name?: string }).name === 'InvocationDoesNotExist') continue;
      throw err;
    }
  }
}

// ---- backend.tcp: `nc -zv <db-endpoint> <port>` from each backend instance ----

const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

export type TcpVerdict = 'open' | 'refused' | 'timed-out' | 'unresolved' | 'unknown';

/** Reads nc's own words (OpenBSD and traditional nc, ncat) rather than only its exit code. */
export function tcpVerdictOf(answer: CommandAnswer): TcpVerdict {
  const text = `${answer.output}\n${answer.error}`;
  if (answer.status === 'Success' && answer.exitCode === 0) return 'open';
  if (/succeeded|open\b|Connected to/i.test(text) && answer.exitCode === 0) return 'open';
  if (/refused/i.test(text)) return 'refused';
  if (/timed out|timeout/i.test(text)) return 'timed-out';
  if (/not known|getaddrinfo|resolve|no address|Unknown host|forward host lookup failed/i.test(text)) return 'unresolved';
  return 'unknown';
}

/**
 * nc's own timeout, well inside the step budget (Run Command delivery and polling take the rest),
 * so a dropped packet is answered "timed out" rather than the step running out of time.
 */
function ncWaitSeconds(budgetMs: number): number {
  return Math.max(1, Math.floor((budgetMs - 2500) / 1000));
}

export async function backendTcpStep(ctx: Ctx): Promise<StepOutcome> {
  const { env } = ctx;
  const [instances, endpoint] = await Promise.all([ctx.reads.backendInstances(), ssmDbEndpoint(ctx)]);
  if (endpoint === null) {
    return {
      status: 'skip',
      summary: `SSM has no ${env.parameterPrefix}/db-endpoint, so there is nothing for the backends to connect to`,
      evidence: { parameter: `${env.parameterPrefix}/db-endpoint` },
    };
  }
  if (!HOST_NAME.test(endpoint)) {
    return {
      status: 'fail',
      summary: `${env.parameterPrefix}/db-endpoint is not a host name, so no backend can connect`,
      evidence: { 'db-endpoint': endpoint.slice(0, 200) },
      fix: {
        summary: 'Write the RDS endpoint address into the parameter',
        commands: [
          aws(env, `rds describe-db-instances --db-instance-identifier ${shellQuote(env.rdsInstanceId)} --query 'DBInstances[0].Endpoint.Address' --output text`),
          aws(env, `ssm put-parameter --name ${env.parameterPrefix}/db-endpoint --type String --value <address> --overwrite`),
        ],
      },
    };
  }
  const running = instances.filter((i) => i.state === 'running');
  if (running.length === 0) {
    return {
      status: 'skip',
      summary: 'No backend instance is running, so there is nowhere to test from',
      evidence: { instances: instances.map((i) => `${i.id} ${i.state}`).join(', ') || 'none found' },
    };
  }
  const line = `nc -zv -w ${ncWaitSeconds(ctx.budgetMs)} ${endpoint} ${env.dbPort}`;
  const { value: answers } = await cached(
    `runbooks:${env.name}:backend-tcp:${endpoint}:${env.dbPort}:${running.map((i) => i.id).join(',')}`,
    ctx.ttlMs * SLOW_ANSWER_TTL_FACTOR,
    () =>
      Promise.all(
        running.map(async (i) => {
          try {
            return { id: i.id, verdict: tcpVerdictOf(await runOnInstance(ctx, i.id, line)), reason: '' };
          } catch (err) {
            return { id: i.id, verdict: 'error' as const, reason: describeAwsError(err, { action: 'SendCommand' }).message };
          }
        }),
      ),
    { fresh: ctx.fresh },
  );

  const evidence: Evidence = { 'db-endpoint': endpoint, port: env.dbPort, command: line };
  for (const a of answers) evidence[a.id] = a.verdict === 'error' ? `could not run: ${a.reason}` : a.verdict;
  const broken = answers.filter((a) => a.verdict !== 'open' && a.verdict !== 'error' && a.verdict !== 'unknown');
  const unknown = answers.filter((a) => a.verdict === 'error' || a.verdict === 'unknown');
  const target = running[0]!.id;
  const manual = [
    aws(env, `ssm start-session --target ${target}`),
    `nc -zv ${endpoint} ${env.dbPort}`,
  ];
  if (broken.length > 0) {
    const kinds = [...new Set(broken.map((b) => b.verdict))];
    const hint = kinds.includes('timed-out')
      ? 'Timed out means packets are dropped: the DB security group does not admit the backend group on this port, or a NACL/route blocks it.'
      : kinds.includes('refused')
        ? 'Refused means the host answered but nothing listens: the DB instance is stopped or rebooting, or the port is wrong.'
        : 'The name does not resolve: db-endpoint does not match the RDS endpoint address.';
    return {
      status: 'fail',
      summary: `${broken.length} of ${answers.length} backend instance(s) cannot open TCP to ${endpoint}:${env.dbPort} (${kinds.join(', ')})`,
      evidence,
      fix: { summary: hint, commands: manual },
    };
  }
  if (unknown.length > 0) {
    return {
      status: 'error',
      summary: `Could not test from ${unknown.map((u) => u.id).join(', ')}: Run Command did not give a usable answer`,
      evidence,
      fix: { summary: 'Run the test by hand from the instance', commands: manual },
    };
  }
  return { status: 'pass', summary: `Every running backend instance reaches ${endpoint}:${env.dbPort}`, evidence };
}

// ---- backend.role-permissions: ssm:GetParameter on db-password and kms:Decrypt, by simulation ----

async function callerAccount(ctx: Ctx): Promise<string> {
  const { value } = await cached(
    `runbooks:${ctx.env.name}:account`,
    ctx.ttlMs * SLOW_ANSWER_TTL_FACTOR,
    async () => {
      const out = await awsClients(ctx.env).sts.send(new GetCallerIdentityCommand({}), { abortSignal: ctx.signal });
      if (!out.Account) throw new Error('GetCallerIdentity returned no account');
      return out.Account;
    },
    { fresh: ctx.fresh },
  );
  return value;
}

/** Instance id → instance profile ARN (null when it has none); the status engine's reader does not carry profiles. */
async function instanceProfiles(ctx: Ctx, ids: string[]): Promise<Record<string, string | null>> {
  const { value } = await cached(
    `runbooks:${ctx.env.name}:instance-profiles:${ids.join(',')}`,
    ctx.ttlMs * SLOW_ANSWER_TTL_FACTOR,
    async () => {
      const out = await awsClients(ctx.env).ec2.send(new DescribeInstancesCommand({ InstanceIds: ids }), { abortSignal: ctx.signal });
      const profiles: Record<string, string | null> = {};
      for (const i of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (i.InstanceId) profiles[i.InstanceId] = i.IamInstanceProfile?.Arn ?? null;
      }
      return profiles;
    },
    { fresh: ctx.fresh },
  );
  return value;
}

async function roleOfProfile(ctx: Ctx, profileArn: string): Promise<string | null> {
  const name = profileArn.split('/').pop()!;
  const { value } = await cached(
    `runbooks:${ctx.env.name}:profile-role:${profileArn}`,
    ctx.ttlMs * SLOW_ANSWER_TTL_FACTOR,
    async () => {
      const out = await awsClients(ctx.env).iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }), {
        abortSignal: ctx.signal,
      });
      return out.InstanceProfile?.Roles?.[0]?.Arn ?? null;
    },
    { fresh: ctx.fresh },
  );
  return value;
}

interface Simulated {
  action: string;
  resource: string;
  decision: string;
}

async function simulate(ctx: Ctx, roleArn: string, action: string, resource: string): Promise<Simulated> {
  const out = await awsClients(ctx.env).iam.send(
    new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: [action], ResourceArns: [resource] }),
    { abortSignal: ctx.signal },
  );
  const decision = out.EvaluationResults?.find((r) => r.EvalActionName === action)?.EvalDecision ?? out.EvaluationResults?.[0]?.EvalDecision;
  if (!decision) throw new Error(`SimulatePrincipalPolicy gave no decision for ${action}`);
  return { action, resource, decision };
}

function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export async function backendRolePermissionsStep(ctx: Ctx): Promise<StepOutcome> {
  const { env } = ctx;
  const instances = await ctx.reads.backendInstances();
  if (instances.length === 0) {
    return { status: 'skip', summary: 'No backend instance found, so there is no instance role to check', evidence: {} };
  }
  const profileOf = await instanceProfiles(ctx, instances.map((i) => i.id));
  const withoutProfile = instances.filter((i) => !profileOf[i.id]);
  const profiles = [...new Set(instances.flatMap((i) => profileOf[i.id] ?? []))];
  const [account, roles] = await Promise.all([
    callerAccount(ctx),
    Promise.all(profiles.map(async (p) => ({ profile: p, role: await roleOfProfile(ctx, p) }))),
  ]);
  const parameterArn = `arn:${partitionOf(env.region)}:ssm:${env.region}:${account}:parameter${env.parameterPrefix}/db-password`;
  const keyArn = `arn:${partitionOf(env.region)}:kms:${env.region}:${account}:key/*`;

  const evidence: Evidence = { account, parameter: parameterArn };
  const problems: string[] = [];
  for (const i of withoutProfile) problems.push(`${i.id} has no instance profile`);
  for (const r of roles) if (!r.role) problems.push(`instance profile ${r.profile} has no role`);

  const roleArns = [...new Set(roles.flatMap((r) => (r.role ? [r.role] : [])))];
  const results = await Promise.all(
    roleArns.flatMap((role) => [simulate(ctx, role, 'ssm:GetParameter', parameterArn), simulate(ctx, role, 'kms:Decrypt', keyArn)].map(async (p) => ({ role, ...(await p) }))),
  );
  for (const r of results) {
    const roleName = r.role.split('/').pop();
    evidence[`${roleName} ${r.action}`] = r.decision;
    if (r.decision !== 'allowed') problems.push(`${roleName} is ${r.decision === 'explicitDeny' ? 'explicitly denied' : 'not allowed'} ${r.action}`);
  }
  const roleName = roleArns[0]?.split('/').pop() ?? '<backend-role>';
  const simulateCmd = (roleArn: string) =>
    aws(
      env,
      `iam simulate-principal-policy --policy-source-arn ${shellQuote(roleArn)} --action-names ssm:GetParameter kms:Decrypt --resource-arns ${shellQuote(parameterArn)} --query 'EvaluationResults[].[EvalActionName,EvalDecision]' --output text`,
    );
  if (problems.length > 0) {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: `arn:${partitionOf(env.region)}:ssm:${env.region}:${account}:parameter${env.parameterPrefix}/*` },
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
          ...roleArns.map(simulateCmd),
          aws(env, `iam put-role-policy --role-name ${shellQuote(roleName)} --policy-name linkbox-ssm-read --policy-document ${shellQuote(policy)}`),
        ],
      },
    };
  }
  return {
    status: 'pass',
    summary: `The backend role${roleArns.length > 1 ? 's' : ''} may read ${env.parameterPrefix}/db-password and decrypt it`,
    evidence,
  };
}

// ---- backend.agent-online: DescribeInstanceInformation ----

export async function backendAgentOnlineStep(ctx: Ctx): Promise<StepOutcome> {
  const { env } = ctx;
  const instances = (await ctx.reads.backendInstances()).filter((i) => i.state === 'running');
  if (instances.length === 0) {
    return { status: 'skip', summary: 'No backend instance is running, so no agent can be online', evidence: {} };
  }
  const { value: pings } = await cached(
    `runbooks:${env.name}:agents:${instances.map((i) => i.id).join(',')}`,
    ctx.ttlMs,
    async () => {
      const out = await awsClients(env).ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: instances.map((i) => i.id) }] }),
        { abortSignal: ctx.signal },
      );
      return Object.fromEntries((out.InstanceInformationList ?? []).map((info) => [info.InstanceId ?? '', info.PingStatus ?? 'unknown']));
    },
    { fresh: ctx.fresh },
  );
  const evidence: Evidence = {};
  const offline: string[] = [];
  for (const i of instances) {
    const ping = pings[i.id] ?? 'not registered';
    evidence[i.id] = ping;
    if (ping !== 'Online') offline.push(`${i.id} (${ping})`);
  }
  if (offline.length > 0) {
    return {
      status: 'fail',
      summary: `The SSM agent is not online on ${offline.join(', ')}: deploys, restarts and Session Manager cannot reach it`,
      evidence,
      fix: {
        summary: 'Check the agent on the instance (EC2 serial console or SSH) and that the instance role has AmazonSSMManagedInstanceCore',
        commands: [
          aws(env, `ssm describe-instance-information --filters Key=InstanceIds,Values=${instances.map((i) => i.id).join(',')}`),
          'sudo systemctl restart amazon-ssm-agent',
        ],
      },
    };
  }
  return { status: 'pass', summary: 'The SSM agent is online on every running backend instance', evidence };
}

// ---- backend.restart-count: `docker inspect linkbox-backend`, shared with containers.running ----

/** Restarts beyond this mean a crash loop rather than a deploy or a rotation's restart. */
export const RESTART_COUNT_WARN = 3;

export async function backendRestartCountStep(ctx: Ctx): Promise<StepOutcome> {
  const { env } = ctx;
  const running = (await ctx.reads.backendInstances()).filter((i) => i.state === 'running');
  if (running.length === 0) return { status: 'skip', summary: 'No backend instance is running', evidence: {} };
  const { reports } = await ctx.reads.containers();
  const evidence: Evidence = {};
  const looping: string[] = [];
  const down: string[] = [];
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
    if (c.status !== 'running') down.push(`${id} (${c.status}${exit})`);
    else if (restarts >= RESTART_COUNT_WARN) looping.push(`${id} (${restarts} restarts)`);
  }
  const first = running[0]!.id;
  const commands = [
    aws(env, `ssm start-session --target ${first}`),
    'sudo docker ps -a --filter name=linkbox-backend',
    'sudo docker logs --tail 100 linkbox-backend',
  ];
  if (down.length > 0) {
    return {
      status: 'fail',
      summary: `The container is not running on ${down.join(', ')}`,
      evidence,
      fix: {
        summary: 'Read its last log lines, then start it with the deploy scripts (start_application.sh re-reads SSM), or use "Restart containers" on the environment page',
        commands: [
          ...commands,
          aws(
            env,
            `ssm send-command --instance-ids ${down.map((d) => d.split(' ')[0]).join(' ')} --document-name AWS-RunShellScript --parameters ${shellQuote(JSON.stringify({ commands: restartCommands(env) }))}`,
          ),
        ],
      },
    };
  }
  if (unknown.length > 0) {
    return { status: 'error', summary: `Could not inspect the container on ${unknown.join(', ')}`, evidence, fix: { summary: 'Inspect it by hand', commands } };
  }
  if (looping.length > 0) {
    return {
      status: 'warn',
      summary: `The container keeps restarting on ${looping.join(', ')}`,
      evidence,
      fix: { summary: 'Read why it exits; a crash right after start is usually a DATABASE_URL it cannot use', commands },
    };
  }
  return { status: 'pass', summary: 'The container is running on every backend instance without a restart loop', evidence };
}
