import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GetRoleCommand, IAMClient, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createIamSimulator } from '@/infra/lab/hosts/iam';
import { awsCli, labApi, startTestLab, type TestLab } from '../support/lab';

// The lab's backend instances seen from outside, the way the console and an operator see them:
// /health over HTTP, Run Command through the gateway with the AWS SDK, faults caused with the AWS
// CLI. One lab for the file; every test leaves it healthy for the next.

let lab: TestLab;
let ssm: SSMClient;

beforeAll(async () => {
  lab = await startTestLab();
  ssm = new SSMClient({
    region: lab.region,
    endpoint: lab.awsEndpoint,
    credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' },
  });
});

async function health(url: string): Promise<{ status: number; body: { status?: string; error?: string } } | 'unreachable'> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(8000) });
    return { status: res.status, body: (await res.json()) as { status?: string; error?: string } };
  } catch {
    return 'unreachable';
  }
}

async function healthStatuses(): Promise<Array<number | 'unreachable'>> {
  return Promise.all(lab.instances.map(async (i) => {
    const h = await health(i.healthUrl);
    return h === 'unreachable' ? h : h.status;
  }));
}

/** Polls until `check` passes; the lab's physics (RDS reset, security-group sync) take a few seconds. */
async function eventually<T>(probe: () => Promise<T>, check: (value: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = await probe();
  while (!check(last) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 300));
    last = await probe();
  }
  return last;
}

async function run(instanceIds: string[], commands: string[]): Promise<GetCommandInvocationCommandOutput[]> {
  const sent = await ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: instanceIds, Parameters: { commands } }));
  const commandId = sent.Command!.CommandId!;
  return Promise.all(
    instanceIds.map((InstanceId) =>
      eventually(
        () => ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId })),
        (out) => out.Status === 'Success' || out.Status === 'Failed',
        90_000,
      ),
    ),
  );
}

async function runOne(commands: string[], instance = lab.instances[0]!.id): Promise<GetCommandInvocationCommandOutput> {
  const [out] = await run([instance], commands);
  return out!;
}

async function rotateWithCli(password: string): Promise<void> {
  const put = await awsCli(lab, ['ssm', 'put-parameter', '--name', `${lab.parameterPrefix}/db-password`, '--type', 'SecureString', '--value', password, '--overwrite']);
  expect(put.code, put.stderr).toBe(0);
  const modify = await awsCli(lab, ['rds', 'modify-db-instance', '--db-instance-identifier', lab.rds.instanceId, '--master-user-password', password, '--apply-immediately']);
  expect(modify.code, modify.stderr).toBe(0);
}

const START_SCRIPT = '/opt/codedeploy-agent/deployment-root/d-LAB/deployment-archive/scripts/start_application.sh';
const STOP_SCRIPT = '/opt/codedeploy-agent/deployment-root/d-LAB/deployment-archive/scripts/stop_application.sh';

describe('backend instances', () => {
  test('every backend answers /health 200 healthy on a freshly started lab, and so does the local backend', async () => {
    for (const instance of lab.instances) {
      expect(await health(instance.healthUrl)).toEqual({ status: 200, body: { status: 'healthy' } });
      expect(instance.container).toMatchObject({ name: 'linkbox-backend', status: 'running', image: 'linkbox-backend:latest', restartCount: 0 });
    }
    expect(await health(`${lab.local.backendUrl}/health`)).toEqual({ status: 200, body: { status: 'healthy' } });
  });

  test('DescribeInstanceInformation lists both backend instances Online with their agent and address', async () => {
    const out = await ssm.send(new DescribeInstanceInformationCommand({}));
    const list = out.InstanceInformationList ?? [];
    expect(list.map((i) => i.InstanceId).sort()).toEqual(lab.instances.map((i) => i.id).sort());
    for (const info of list) {
      const instance = lab.instances.find((i) => i.id === info.InstanceId)!;
      expect(info).toMatchObject({ PingStatus: 'Online', PlatformType: 'Linux', ResourceType: 'EC2Instance', IPAddress: instance.privateIp });
      expect(info.AgentVersion).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      expect(info.ComputerName).toContain(instance.privateIp.replaceAll('.', '-'));
      expect(info.LastPingDateTime).toBeInstanceOf(Date);
    }
  });

  test('after a password rotation with the CLI the backends fail /health until start_application.sh re-reads SSM', async () => {
    await rotateWithCli('Rotated-by-cli-0001_abcdefghijklmnop');
    const broken = await eventually(healthStatuses, (s) => s.every((x) => x === 503));
    expect(broken).toEqual([503, 503]);
    const before = await health(lab.instances[0]!.healthUrl);
    expect(before !== 'unreachable' && before.body.error).toMatch(/password authentication failed for user "linkbox"/);
    expect(JSON.stringify(before)).not.toContain('Rotated-by-cli');

    const ids = lab.instances.map((i) => i.id);
    const results = await run(ids, [`sudo ${START_SCRIPT}`]);
    for (const out of results) {
      expect(out).toMatchObject({ Status: 'Success', ResponseCode: 0, PluginName: 'aws:runShellScript', DocumentName: 'AWS-RunShellScript' });
      expect(out.StandardOutputContent).toContain('Starting linkbox-backend (linkbox-backend:latest)');
      expect(out.StandardOutputContent).not.toContain('Rotated-by-cli');
      expect(Date.parse(out.ExecutionEndDateTime!)).toBeGreaterThanOrEqual(Date.parse(out.ExecutionStartDateTime!));
    }
    expect(await healthStatuses()).toEqual([200, 200]);
    expect(lab.logLines.join('\n')).not.toContain('Rotated-by-cli');
  });

  test('docker restart keeps the DATABASE_URL the container was created with, so it does not pick up a new password', async () => {
    await rotateWithCli('Rotated-by-cli-0002_abcdefghijklmnop');
    await eventually(healthStatuses, (s) => s.every((x) => x === 503));
    const first = lab.instances[0]!;

    const restarted = await runOne(['sudo docker restart linkbox-backend']);
    expect(restarted).toMatchObject({ Status: 'Success', StandardOutputContent: 'linkbox-backend\n' });
    expect((await health(first.healthUrl)) as { status: number }).toMatchObject({ status: 503 });

    const deployed = await run(lab.instances.map((i) => i.id), [`bash ${STOP_SCRIPT}`, `bash ${START_SCRIPT}`]);
    expect(deployed.map((d) => d.Status)).toEqual(['Success', 'Success']);
    expect(await healthStatuses()).toEqual([200, 200]);
  });

  test('docker inspect and docker ps report the real container state, image and start time', async () => {
    const out = await runOne(['docker inspect linkbox-backend']);
    expect(out.Status).toBe('Success');
    const [inspected] = JSON.parse(out.StandardOutputContent!) as Array<{
      State: { Status: string; Running: boolean; StartedAt: string; ExitCode: number };
      Config: { Image: string; Env?: unknown };
      RestartCount: number;
      Name: string;
    }>;
    expect(inspected!.State).toMatchObject({ Status: 'running', Running: true, ExitCode: 0 });
    expect(inspected!.Config.Image).toBe('linkbox-backend:latest');
    // As Docker does: the environment start_application.sh passed, password and all (see container-environment.test.ts).
    expect(inspected!.Config.Env).toContainEqual(expect.stringMatching(/^DATABASE_URL=postgresql:\/\/linkbox:/));
    expect(inspected!.State.StartedAt).toBe(lab.instances[0]!.container.startedAt);

    const formatted = await runOne(["docker inspect --format '{{.State.Status}} {{.RestartCount}} {{.Config.Image}}' linkbox-backend", 'docker ps']);
    expect(formatted.StandardOutputContent).toMatch(/^running 0 linkbox-backend:latest\nCONTAINER ID +IMAGE +COMMAND/);
    expect(formatted.StandardOutputContent).toMatch(/Up .+0\.0\.0\.0:80->80\/tcp +linkbox-backend\n$/);
  });

  test('a deploy with IMAGE_URI starts the container from the new image', async () => {
    const out = await runOne(['export IMAGE_URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/linkbox-backend:v42', `${START_SCRIPT}`]);
    expect(out.Status).toBe('Success');
    expect(lab.instances[0]!.container.image).toBe('123456789012.dkr.ecr.us-east-1.amazonaws.com/linkbox-backend:v42');
    const back = await runOne([`IMAGE_URI=linkbox-backend:latest ${START_SCRIPT} && curl -s http://localhost/health`]);
    expect(back.StandardOutputContent).toMatch(/\{"status":"healthy"\}$/);
    expect(lab.instances[0]!.container.image).toBe('linkbox-backend:latest');
  });

  test('curl of the health URL from the instance prints the body, and -w prints the HTTP code', async () => {
    const out = await runOne(['curl -s http://localhost:80/health', "curl -s -o /dev/null -w '%{http_code}' http://localhost/health"]);
    expect(out.Status).toBe('Success');
    expect(out.StandardOutputContent).toBe('{"status":"healthy"}200');
  });

  test('a crashed-container fault makes docker inspect say exited 137 and /health unreachable; clearing it and a restart bring it back', async () => {
    const target = lab.instances[1]!;
    const added = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'container', instanceId: target.id, mode: 'crashed' });
    expect(added.status).toBe(201);
    await eventually(async () => lab.instances[1]!.container.status, (s) => s === 'exited');

    const inspected = await runOne(["docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' linkbox-backend", "curl -s -o /dev/null -w '%{http_code}' http://localhost/health"], target.id);
    expect(inspected.StandardOutputContent).toBe('exited 137\n000');
    expect(inspected.Status).toBe('Failed');
    expect(inspected.ResponseCode).toBe(7);
    expect(await health(target.healthUrl)).toBe('unreachable');

    // While the fault holds, a restart cannot keep it up.
    await runOne(['docker restart linkbox-backend'], target.id);
    expect(lab.instances[1]!.container).toMatchObject({ status: 'exited', exitCode: 137 });

    await labApi(lab, 'DELETE', `/_lab/faults/${added.body.id}`);
    const restarted = await runOne(['docker restart linkbox-backend', 'curl -sf http://localhost/health'], target.id);
    expect(restarted).toMatchObject({ Status: 'Success', StandardOutputContent: 'linkbox-backend\n{"status":"healthy"}' });
    expect(lab.instances[1]!.container.status).toBe('running');
  });

  test('an unhealthy-container fault makes /health answer 503 with the lab fault until it is cleared', async () => {
    const target = lab.instances[0]!;
    const added = await labApi<{ id: string }>(lab, 'POST', '/_lab/faults', { kind: 'container', instanceId: target.id, mode: 'unhealthy' });
    const sick = await eventually(() => health(target.healthUrl), (h) => h !== 'unreachable' && h.status === 503);
    expect(sick).toEqual({ status: 503, body: { status: 'unhealthy', error: 'lab fault: unhealthy' } });
    const curl = await runOne(['curl -sf http://localhost/health'], target.id);
    expect(curl).toMatchObject({ Status: 'Failed', ResponseCode: 22 });
    await labApi(lab, 'DELETE', `/_lab/faults/${added.body.id}`);
    expect(await eventually(() => health(target.healthUrl), (h) => h !== 'unreachable' && h.status === 200)).toMatchObject({ status: 200 });
  });

  test('an unsupported command fails the whole script with the lab\'s message and runs nothing', async () => {
    const before = lab.instances[0]!.container.startedAt;
    const out = await runOne(['docker restart linkbox-backend', 'rm -rf /tmp/x']);
    expect(out).toMatchObject({ Status: 'Failed', StandardOutputContent: '', StandardErrorContent: 'lab: command not supported by the lab: rm\n' });
    expect(lab.instances[0]!.container.startedAt).toBe(before);
  });

  test('the seed\'s container-environment check prints DATABASE_URL, as Docker would', async () => {
    const out = await runOne(['sudo docker exec linkbox-backend env | grep DATABASE_URL']);
    expect(out.Status).toBe('Success');
    expect(out.StandardOutputContent).toMatch(/^DATABASE_URL=postgresql:\/\/linkbox:[^@]+@[^:]+:5432\/linkbox\n$/);
  });

  test('a SendCommand by tag:Name reaches both instances, and ListCommandInvocations with Details gives the plugin output', async () => {
    const sent = await ssm.send(
      new SendCommandCommand({
        DocumentName: 'AWS-RunShellScript',
        Targets: [{ Key: 'tag:Name', Values: ['linkbox-backend'] }],
        Parameters: { commands: ["curl -s -o /dev/null -w '%{http_code}' http://localhost/health"] },
        Comment: 'health sweep',
      }),
    );
    expect(sent.Command).toMatchObject({ Status: 'Pending', TargetCount: 2, DocumentName: 'AWS-RunShellScript', Comment: 'health sweep' });
    const commandId = sent.Command!.CommandId!;
    const listed = await eventually(
      () => ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, Details: true })),
      (out) => (out.CommandInvocations ?? []).every((i) => i.Status === 'Success'),
    );
    expect(listed.CommandInvocations!.map((i) => i.InstanceId).sort()).toEqual(lab.instances.map((i) => i.id).sort());
    for (const invocation of listed.CommandInvocations!) {
      expect(invocation.CommandPlugins).toEqual([expect.objectContaining({ Name: 'aws:runShellScript', Status: 'Success', ResponseCode: 0, Output: '200' })]);
    }
    const commands = await ssm.send(new ListCommandsCommand({ CommandId: commandId }));
    expect(commands.Commands![0]).toMatchObject({ CommandId: commandId, Status: 'Success', CompletedCount: 2, ErrorCount: 0 });
  });

  test('Run Command answers with SSM\'s error codes for an unknown instance, more than 50 instances, an unknown invocation and another document', async () => {
    await expect(ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: ['i-0000000000000dead'], Parameters: { commands: ['docker ps'] } }))).rejects.toMatchObject({
      name: 'InvalidInstanceId',
    });
    const fiftyOne = [...lab.instances.map((i) => i.id), ...Array.from({ length: 51 - lab.instances.length }, (_, i) => `i-${String(i).padStart(17, '0')}`)];
    await expect(ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: fiftyOne, Parameters: { commands: ['docker ps'] } }))).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('less than or equal to 50'),
    });
    await expect(ssm.send(new GetCommandInvocationCommand({ CommandId: '00000000-0000-0000-0000-000000000000', InstanceId: lab.instances[0]!.id }))).rejects.toMatchObject({
      name: 'InvocationDoesNotExist',
    });
    await expect(ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunPowerShellScript', InstanceIds: [lab.instances[0]!.id], Parameters: { commands: ['dir'] } }))).rejects.toMatchObject({
      name: 'InvalidDocument',
    });
  });
});

describe('the network seen from the backend instances', () => {
  /** The DB group's rule admitting the backend group, exactly as EC2 describes it (to revoke and restore it). */
  const backendRule = async () => {
    const out = await awsCli(lab, ['ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*']);
    const group = (out.json as { SecurityGroups: Array<{ GroupId: string; IpPermissions: Array<{ FromPort: number; UserIdGroupPairs: unknown[] }> }> }).SecurityGroups[0]!;
    const rule = group.IpPermissions.find((p) => p.FromPort === 5432 && p.UserIdGroupPairs.length > 0)!;
    return { dbGroupId: group.GroupId, rule: JSON.stringify([rule]) };
  };
  const ncLine = () => `nc -zv ${lab.rds.endpointAddress} 5432`;

  test('nc -zv to the RDS endpoint succeeds from a backend instance on a healthy lab', async () => {
    const out = await runOne([ncLine()]);
    expect(out).toMatchObject({ Status: 'Success', ResponseCode: 0 });
    expect(out.StandardErrorContent).toBe(`Connection to ${lab.rds.endpointAddress} 5432 port [tcp/postgresql] succeeded!\n`);
  });

  test('revoking the DB group\'s ingress makes /health 503 and nc time out; authorising it again brings both back', async () => {
    const { dbGroupId, rule } = await backendRule();
    const revoke = await awsCli(lab, ['ec2', 'revoke-security-group-ingress', '--group-id', dbGroupId, '--ip-permissions', rule]);
    expect(revoke.code, revoke.stderr).toBe(0);
    try {
      expect(await eventually(healthStatuses, (s) => s.every((x) => x === 503))).toEqual([503, 503]);
      const sick = await health(lab.instances[0]!.healthUrl);
      expect(sick !== 'unreachable' && sick.body.error).toMatch(/timeout expired/);
      const out = await runOne([ncLine()]);
      expect(out).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
      expect(out.StandardErrorContent).toBe(`nc: connect to ${lab.rds.endpointAddress} port 5432 (tcp) timed out: Operation now in progress\n`);
    } finally {
      const authorize = await awsCli(lab, ['ec2', 'authorize-security-group-ingress', '--group-id', dbGroupId, '--ip-permissions', rule]);
      expect(authorize.code, authorize.stderr).toBe(0);
    }
    expect(await eventually(healthStatuses, (s) => s.every((x) => x === 200))).toEqual([200, 200]);
    expect((await runOne([ncLine()])).Status).toBe('Success');
  });

  test('nc -zv reports the connection refused while the DB instance is stopped', async () => {
    const stop = await awsCli(lab, ['rds', 'stop-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
    expect(stop.code, stop.stderr).toBe(0);
    try {
      const out = await eventually(() => runOne([ncLine()]), (o) => o.Status === 'Failed');
      expect(out.StandardErrorContent).toBe(`nc: connect to ${lab.rds.endpointAddress} port 5432 (tcp) failed: Connection refused\n`);
    } finally {
      const start = await awsCli(lab, ['rds', 'start-db-instance', '--db-instance-identifier', lab.rds.instanceId]);
      expect(start.code, start.stderr).toBe(0);
    }
    expect((await eventually(() => runOne([ncLine()]), (o) => o.Status === 'Success')).Status).toBe('Success');
  });
});

describe('iam:SimulatePrincipalPolicy for the backend role', () => {
  // The simulator is an interceptor the lab core chains into its gateway. Here it sits behind a
  // small query-protocol endpoint of its own so the real IAM SDK parses its XML; it reads the
  // role's policies through the lab's AWS endpoint, so a policy changed with the CLI counts.
  let server: Server;
  let iam: IAMClient;
  let roleArn: string;
  let accountId: string;

  beforeAll(async () => {
    const simulate = createIamSimulator({ motoEndpoint: lab.awsEndpoint });
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', async () => {
        const input = Object.fromEntries(new URLSearchParams(body));
        const reply = await simulate({ service: 'iam', action: String(input.Action), region: 'us-east-1', protocol: 'query', input, accessKeyId: 'LABTEST' });
        if (!reply) return void res.writeHead(501).end();
        res.writeHead(reply.status, reply.headers).end(reply.body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const credentials = { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' };
    iam = new IAMClient({ region: 'us-east-1', endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, credentials });
    const lookup = new IAMClient({ region: 'us-east-1', endpoint: lab.awsEndpoint, credentials });
    roleArn = (await lookup.send(new GetRoleCommand({ RoleName: 'linkbox-backend-role' }))).Role!.Arn!;
    accountId = roleArn.split(':')[4]!;
  });
  afterAll(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  const parameterArn = (name: string) => `arn:aws:ssm:${lab.region}:${accountId}:parameter${name}`;

  test('allows ssm:GetParameter on /linkbox/db-password and denies it on /other/x', async () => {
    const out = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: roleArn,
        ActionNames: ['ssm:GetParameter'],
        ResourceArns: [parameterArn('/linkbox/db-password'), parameterArn('/other/x')],
      }),
    );
    expect(out.EvaluationResults).toEqual([
      expect.objectContaining({
        EvalActionName: 'ssm:GetParameter',
        EvalResourceName: parameterArn('/linkbox/db-password'),
        EvalDecision: 'allowed',
        MatchedStatements: [expect.objectContaining({ SourcePolicyId: 'linkbox-ssm-parameters', SourcePolicyType: 'role' })],
      }),
      expect.objectContaining({ EvalResourceName: parameterArn('/other/x'), EvalDecision: 'implicitDeny', MatchedStatements: [] }),
    ]);
  });

  test('the instance profile stands for its role, and kms:Decrypt is allowed', async () => {
    const profileArn = `arn:aws:iam::${accountId}:instance-profile/linkbox-backend-profile`;
    const out = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: profileArn, ActionNames: ['kms:Decrypt'] }));
    expect(out.EvaluationResults).toEqual([expect.objectContaining({ EvalActionName: 'kms:Decrypt', EvalResourceName: '*', EvalDecision: 'allowed' })]);
  });

  test('a Deny put on the role with the AWS CLI turns the answer into explicitDeny', async () => {
    const deny = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 'ssm:GetParameter', Resource: '*' }] });
    const put = await awsCli(lab, ['iam', 'put-role-policy', '--role-name', 'linkbox-backend-role', '--policy-name', 'lab-test-deny', '--policy-document', deny]);
    expect(put.code, put.stderr).toBe(0);
    try {
      const out = await iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: roleArn, ActionNames: ['ssm:GetParameter'], ResourceArns: [parameterArn('/linkbox/db-password')] }));
      expect(out.EvaluationResults![0]).toMatchObject({ EvalDecision: 'explicitDeny', MatchedStatements: [{ SourcePolicyId: 'lab-test-deny', SourcePolicyType: 'role' }] });
    } finally {
      await awsCli(lab, ['iam', 'delete-role-policy', '--role-name', 'linkbox-backend-role', '--policy-name', 'lab-test-deny']);
    }
  });

  test('an unknown role is NoSuchEntity', async () => {
    await expect(
      iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: `arn:aws:iam::${accountId}:role/no-such-role`, ActionNames: ['ssm:GetParameter'] })),
    ).rejects.toMatchObject({ name: 'NoSuchEntityException' });
  });
});
