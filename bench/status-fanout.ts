// Benchmark 1, status fan-out: how long a cold full status of `production` takes against the
// slowest single AWS call it makes, and against the manual peer — the seed's checks typed one after
// another with the AWS CLI v2. The physical limit is about 2.0: a command's answers cannot be read
// before it is sent (SendCommand → ListCommandInvocations), everything else runs beside that chain.
import { execFile } from 'node:child_process';
import { DescribeDBInstancesCommand } from '@aws-sdk/client-rds';
import { DescribeInstancesCommand, DescribeNetworkAclsCommand, DescribeNetworkInterfacesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { DescribeParametersCommand, GetParametersCommand, ListCommandInvocationsCommand, SendCommandCommand } from '@aws-sdk/client-ssm';
import { awsClients } from '../lib/aws/clients';
import { getEnvironment } from '../lib/config/load';
import type { AwsEnvironmentConfig } from '../lib/config/schema';
import { getEnvironmentStatus } from '../lib/status';
import { awsCli, awsCliOk } from './support/aws-cli';
import { pointConsoleAt, viewer } from './support/in-process';
import { intFromEnv, LATENCY_MS, NO_FRESH_LIMITS, startBenchLab, sum, type BenchLab } from './support/lab';
import { keyResult, median, ms, ratio, table, timed, title } from './support/report';
import { runBenchmark } from './support/shutdown';

const RUNS = intFromEnv('BENCH_FANOUT_RUNS', 5, 1, 50);
const SINGLE_CALL_RUNS = 5;

runBenchmark(async () => {
  title('Status fan-out', [`AWS latency ${LATENCY_MS} ms a call (lab fault); ${RUNS} cold statuses of production, fresh: every cache bypassed.`]);
  const lab = await startBenchLab('status-fanout', { consoleConfig: NO_FRESH_LIMITS });
  pointConsoleAt(lab);
  const env = getEnvironment('production');
  if (env.kind !== 'aws') throw new Error('the lab config has no AWS environment "production"');
  await lab.setLatency(LATENCY_MS);

  // The first status of the process also pays for SDK set-up and the first connections, and knows no
  // instances yet (its Run Command waits for DescribeInstances); reported apart.
  const statuses: Array<{ ms: number; overall: string; calls: Record<string, number>; checks: Array<{ id: string; status: string; durationMs?: number }> }> = [];
  for (let i = 0; i <= RUNS; i++) {
    await lab.resetCounters();
    const { value, ms: took } = await timed(() => getEnvironmentStatus(viewer, 'production', { fresh: true }));
    statuses.push({ ms: took, overall: value.overall, calls: await lab.consoleCalls(), checks: value.checks });
  }
  const [first, ...cold] = statuses as [(typeof statuses)[0], ...typeof statuses];
  const coldMs = median(cold.map((s) => s.ms));
  const unhealthy = statuses.filter((s) => s.overall !== 'healthy');
  if (unhealthy.length) console.log(`note: ${unhealthy.length} of the statuses were not healthy (${unhealthy.map((s) => s.overall).join(', ')})`);

  const calls = cold[cold.length - 1]!.calls;
  // Each call alone, one after another, same client and latency: the physical floor of its fan-out.
  const instanceIds = await runningBackends(env);
  const alone: Array<{ key: string; ms: number }> = [];
  for (const key of Object.keys(calls).sort()) {
    const call = await singleCall(env, key, instanceIds);
    if (!call) {
      console.log(`note: ${key} is not measured alone (no single-call recipe for it)`);
      continue;
    }
    const samples: number[] = [];
    for (let i = 0; i < SINGLE_CALL_RUNS; i++) samples.push((await timed(call)).ms);
    alone.push({ key, ms: median(samples) });
  }
  table(
    ['AWS call the status makes', 'per status', `alone, median of ${SINGLE_CALL_RUNS}`],
    Object.keys(calls)
      .sort()
      .map((key) => {
        const a = alone.find((x) => x.key === key);
        return [key, calls[key]!, a ? ms(a.ms) : '-'];
      }),
  );
  const slowest = alone.reduce((a, b) => (b.ms > a.ms ? b : a));

  const lastChecks = cold[cold.length - 1]!.checks;
  table(
    ['check (last cold status)', 'status', 'took'],
    lastChecks.map((c) => [c.id, c.status, c.durationMs === undefined ? '-' : ms(c.durationMs)]),
  );

  table(
    ['console status', 'took', 'AWS calls'],
    [
      ['first of the process', ms(first.ms), sum(first.calls)],
      ...cold.map((s, i) => [`cold #${i + 1}`, ms(s.ms), sum(s.calls)]),
      [`cold, median of ${cold.length}`, ms(coldMs), sum(calls)],
    ],
  );

  const manual = await manualChecks(lab);
  table(
    ['manual peer: the seed\'s commands, one after another', 'took'],
    manual.steps.map((s) => [s.what, ms(s.ms)]),
  );
  const manualTotal = manual.steps.reduce((total, s) => total + s.ms, 0);

  const fanOut = coldMs / slowest.ms;
  // A command's answers cannot be read before it was sent: these two calls are a chain no
  // concurrency removes, the floor of any status that reads container state. (The instances are
  // known from the previous status, so DescribeInstances runs beside the chain, not before it.)
  const chainKeys = ['ssm:SendCommand', 'ssm:ListCommandInvocations'];
  const chainMs = chainKeys.reduce((t, k) => t + (alone.find((a) => a.key === k)?.ms ?? 0), 0);
  // The path checks need the VPC RDS is in before they read its subnets and ACLs: a second chain of two.
  const pathChainMs = ['rds:DescribeDBInstances', 'ec2:DescribeSubnets'].reduce((t, k) => t + (alone.find((a) => a.key === k)?.ms ?? 0), 0);
  table(
    ['figure', 'value'],
    [
      ['cold full status (median)', ms(coldMs)],
      [`slowest single call (${slowest.key})`, ms(slowest.ms)],
      ['fan-out ratio (status ÷ slowest call; target ≤ 2.0)', ratio(fanOut)],
      ['chained calls (SendCommand → ListCommandInvocations)', ms(chainMs)],
      ['status ÷ chained calls (target ≤ 1.1)', ratio(coldMs / chainMs)],
      ['the path checks\' chain (DescribeDBInstances → DescribeSubnets)', ms(pathChainMs)],
      [`manual peer total (${manual.steps.length} steps, AWS CLI v2)`, ms(manualTotal)],
      ['manual ÷ console', ratio(manualTotal / coldMs)],
    ],
  );
  console.log('');
  console.log(`The manual peer covers fewer checks than the console (no container state or health, no public-ingress or age check) and reads no output: a lower bound.`);
  keyResult(
    `fan-out ratio ${ratio(fanOut)} (cold status ${ms(coldMs)} ÷ slowest call ${slowest.key} ${ms(slowest.ms)}; target ≤ 2.0); status ÷ its SendCommand → ListCommandInvocations chain ${ratio(coldMs / chainMs)}; manual ÷ console ${ratio(manualTotal / coldMs)}`,
  );
});

/** One AWS call exactly as the status makes it, through the console's own client factory. */
async function singleCall(env: AwsEnvironmentConfig, key: string, instanceIds: string[]): Promise<(() => Promise<unknown>) | undefined> {
  const c = awsClients(env);
  const names = ['db-endpoint', 'db-username', 'db-password', 'db-name'].map((n) => `${env.parameterPrefix}/${n}`);
  const tagFilters = (sel: AwsEnvironmentConfig['dbSecurityGroup']) => ('tags' in sel ? Object.entries(sel.tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })) : []);
  const db = (await c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.rdsInstanceId }))).DBInstances?.[0];
  const vpcId = () => db?.DBSubnetGroup?.VpcId ?? '';
  const sendInspect = () =>
    c.ssm.send(
      new SendCommandCommand({ InstanceIds: instanceIds, DocumentName: 'AWS-RunShellScript', Comment: 'bench: container state', Parameters: { commands: ['docker inspect linkbox-backend'] } }),
    );
  switch (key) {
    // The status makes two: the four names, and db-password decrypted; the four cost the more.
    case 'ssm:GetParameters':
      return () => c.ssm.send(new GetParametersCommand({ Names: names, WithDecryption: false }));
    case 'ssm:DescribeParameters':
      return () => c.ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: names }], MaxResults: 50 }));
    case 'rds:DescribeDBInstances':
      return () => c.rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: env.rdsInstanceId }));
    case 'ec2:DescribeSecurityGroups':
      return () => c.ec2.send(new DescribeSecurityGroupsCommand({ Filters: tagFilters(env.dbSecurityGroup) }));
    case 'ec2:DescribeInstances':
      return () => c.ec2.send(new DescribeInstancesCommand({ Filters: tagFilters(env.backendInstances) }));
    case 'ssm:SendCommand':
      return sendInspect;
    case 'ssm:ListCommandInvocations': {
      // The command it asks about is sent before the clock starts.
      const commandId = (await sendInspect()).Command!.CommandId!;
      return () => c.ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true }));
    }
    // The VPC around the path: its id comes from RDS, read before the clock starts.
    case 'ec2:DescribeSubnets':
      return () => c.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId()] }] }));
    case 'ec2:DescribeNetworkAcls':
      return () => c.ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId()] }] }));
    case 'ec2:DescribeNetworkInterfaces':
      return () => c.ec2.send(new DescribeNetworkInterfacesCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId()] }, { Name: 'description', Values: ['RDSNetworkInterface'] }] }));
    default:
      return undefined;
  }
}

async function runningBackends(env: AwsEnvironmentConfig): Promise<string[]> {
  const sel = env.backendInstances;
  const filters = 'tags' in sel ? Object.entries(sel.tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })) : [];
  const out = await awsClients(env).ec2.send(new DescribeInstancesCommand('ids' in sel ? { InstanceIds: sel.ids } : { Filters: filters }));
  return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).filter((i) => i.State?.Name === 'running').map((i) => i.InstanceId!);
}

/**
 * The seed's checks, one command after another as an operator types them: 'Testing Connectivity' and
 * the 'Could not connect' / 'Authentication failed' checklists. Where the seed opens a session on the
 * instance (start-session, nc, curl), Run Command runs the same line there; psql runs through the
 * operator's tunnel. Outputs are captured, never printed (one holds the password).
 */
async function manualChecks(lab: BenchLab): Promise<{ steps: Array<{ what: string; ms: number }> }> {
  const steps: Array<{ what: string; ms: number }> = [];
  const p = lab.parameterPrefix;
  const cli = async (what: string, args: string[]) => {
    const run = await awsCliOk(lab, args);
    steps.push({ what, ms: run.ms });
    return run;
  };
  const endpoint = ((await cli('aws ssm get-parameter db-endpoint', ['ssm', 'get-parameter', '--name', `${p}/db-endpoint`])).json as { Parameter: { Value: string } }).Parameter.Value;
  const user = ((await cli('aws ssm get-parameter db-username', ['ssm', 'get-parameter', '--name', `${p}/db-username`])).json as { Parameter: { Value: string } }).Parameter.Value;
  const password = ((await cli('aws ssm get-parameter db-password --with-decryption', ['ssm', 'get-parameter', '--name', `${p}/db-password`, '--with-decryption'])).json as {
    Parameter: { Value: string };
  }).Parameter.Value;
  await cli('aws ec2 describe-security-groups (tag:Name *linkbox-db-sg*)', ['ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*']);
  await cli('aws rds describe-db-instances --query MasterUsername', ['rds', 'describe-db-instances', '--db-instance-identifier', lab.rds.instanceId, '--query', 'DBInstances[0].MasterUsername']);
  const instanceId = lab.instances[0]!.id;
  await runOnInstance(lab, steps, instanceId, `nc -zv ${endpoint} 5432`, 'nc -zv <db-endpoint> 5432 on the instance (send-command + get-command-invocation)');
  const started = performance.now();
  await psqlVersion(lab, user, password);
  steps.push({ what: "psql -c 'SELECT version();'", ms: performance.now() - started });
  await runOnInstance(lab, steps, instanceId, 'curl -s http://localhost:80/health', 'curl localhost:80/health on the instance (send-command + get-command-invocation)');
  return { steps };
}

async function runOnInstance(lab: BenchLab, steps: Array<{ what: string; ms: number }>, instanceId: string, line: string, what: string): Promise<string> {
  const started = performance.now();
  const sent = await awsCliOk(lab, ['ssm', 'send-command', '--instance-ids', instanceId, '--document-name', 'AWS-RunShellScript', '--parameters', JSON.stringify({ commands: [line] })]);
  const commandId = (sent.json as { Command: { CommandId: string } }).Command.CommandId;
  let status = 'Pending';
  let output = '';
  for (let i = 0; i < 30 && ['Pending', 'InProgress', 'Delayed'].includes(status); i++) {
    const inv = await awsCli(lab, ['ssm', 'get-command-invocation', '--command-id', commandId, '--instance-id', instanceId]);
    const json = inv.json as { Status?: string; StandardOutputContent?: string } | undefined;
    status = json?.Status ?? 'Pending';
    output = json?.StandardOutputContent ?? '';
  }
  steps.push({ what, ms: performance.now() - started });
  return output;
}

function psqlVersion(lab: BenchLab, user: string, password: string): Promise<void> {
  return new Promise((done, fail) => {
    execFile(
      'psql',
      ['-h', lab.db.host, '-p', String(lab.db.port), '-U', user, '-d', lab.rds.dbName, '-qAtc', 'SELECT version();'],
      { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: '10' }, timeout: 30_000, encoding: 'utf8' },
      (err, _stdout, stderr) => (err ? fail(new Error(`psql failed: ${stderr.split(password).join('****').trim().slice(0, 200)}`)) : done()),
    );
  });
}
