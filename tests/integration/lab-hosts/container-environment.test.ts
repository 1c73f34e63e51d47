import {
  GetCommandInvocationCommand,
  GetParameterCommand,
  ListCommandsCommand,
  SendCommandCommand,
  SSMClient,
  type GetCommandInvocationCommandOutput,
} from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RunCommandRecord } from '@/infra/lab/contract';
import { awsCli, eventually, labApi, startTestLab, type TestLab } from '../support/lab';

// The container's environment is where the database password lives on a backend host, and the lab
// shows it the way Docker does: `docker inspect` prints Config.Env, `docker exec ... env` prints
// the environment. Run Command keeps every command line and everything it printed, so a console
// test can scan the whole history for the password (GET /_lab/run-command/history).

let lab: TestLab;
let ssm: SSMClient;
let password: string;
let endpoint: string;

beforeAll(async () => {
  lab = await startTestLab();
  ssm = new SSMClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'LABTEST', secretAccessKey: 'lab-not-a-secret' } });
  password = (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-password`, WithDecryption: true }))).Parameter!.Value!;
  endpoint = (await ssm.send(new GetParameterCommand({ Name: `${lab.parameterPrefix}/db-endpoint` }))).Parameter!.Value!;
});
afterAll(() => ssm?.destroy());

async function run(commands: string[], instanceId = lab.instances[0]!.id): Promise<GetCommandInvocationCommandOutput & { commandId: string }> {
  const sent = await ssm.send(new SendCommandCommand({ DocumentName: 'AWS-RunShellScript', InstanceIds: [instanceId], Parameters: { commands } }));
  const commandId = sent.Command!.CommandId!;
  const out = await eventually(
    async () => {
      const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      return inv.Status === 'Success' || inv.Status === 'Failed' ? inv : undefined;
    },
    `command ${commands.join('; ')}`,
    60_000,
  );
  return { ...out, commandId };
}

// The SSM agent's own markers (amazon-ssm-agent, iohandler.TruncateOutput).
const OUTPUT_TRUNCATED = '\n---Output truncated---';
const ERROR_TRUNCATED = '\n---Error truncated----';
const ERROR_TITLE = '\n----------ERROR-------\n';

const databaseUrl = () => `postgresql://${lab.rds.masterUsername}:${password}@${endpoint}:5432/${lab.rds.dbName}`;

describe('docker inspect', () => {
  test('without --format prints Config.Env: the DATABASE_URL start_application.sh passed, real password included, then the image\'s PATH', async () => {
    const out = await run(['docker inspect linkbox-backend']);
    expect(out.Status).toBe('Success');
    const [inspected] = JSON.parse(out.StandardOutputContent!) as Array<{ Config: { Env: string[]; Image: string } }>;
    expect(inspected!.Config.Env[0]).toBe(`DATABASE_URL=${databaseUrl()}`);
    expect(inspected!.Config.Env).toContainEqual(expect.stringMatching(/^PATH=\/usr\/local\/bin:/));
  });

  test('--format prints fields, JSON and Go\'s list form, and any template naming .Config.Env or .Config shows the password', async () => {
    const out = await run([
      "docker inspect --format '{{.State.Status}}|{{.RestartCount}}|{{.Config.Image}}|{{.State.StartedAt}}' linkbox-backend",
      "docker inspect --format '{{json .State}}' linkbox-backend",
      "docker inspect --format '{{json .Config.Env}}' linkbox-backend",
      "docker inspect --format '{{.Config.Env}}' linkbox-backend",
      "docker inspect -f '{{json .Config}}' linkbox-backend",
      "docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' linkbox-backend",
    ]);
    expect(out.Status).toBe('Success');
    const [fields, state, envJson, envGo, config, ...ranged] = out.StandardOutputContent!.split('\n');
    expect(fields).toBe(`running|0|linkbox-backend:latest|${lab.instances[0]!.container.startedAt}`);
    expect(JSON.parse(state!)).toMatchObject({ Status: 'running', Running: true, ExitCode: 0, Error: '', StartedAt: lab.instances[0]!.container.startedAt });
    expect(JSON.parse(envJson!)).toContain(`DATABASE_URL=${databaseUrl()}`);
    expect(envGo).toMatch(new RegExp(`^\\[DATABASE_URL=${escape(databaseUrl())} PATH=\\S+ LANG=C\\.UTF-8 `));
    expect(config).toContain(password);
    expect(ranged[0]).toBe(`DATABASE_URL=${databaseUrl()}`);
  });

  test('a format that prints only state, restarts, times, exit code, image and error works and carries no secret', async () => {
    const format = '{"status":{{json .State.Status}},"restarts":{{.RestartCount}},"startedAt":{{json .State.StartedAt}},"finishedAt":{{json .State.FinishedAt}},"exitCode":{{.State.ExitCode}},"image":{{json .Config.Image}},"error":{{json .State.Error}}}';
    const out = await run([`docker inspect --format '${format}' linkbox-backend`]);
    expect(out.Status).toBe('Success');
    expect(JSON.parse(out.StandardOutputContent!)).toEqual({
      status: 'running',
      restarts: 0,
      startedAt: lab.instances[0]!.container.startedAt,
      finishedAt: '0001-01-01T00:00:00Z',
      exitCode: 0,
      image: 'linkbox-backend:latest',
      error: '',
    });
    expect(out.StandardOutputContent).not.toContain(password);
  });

  test('an unknown field fails with Docker\'s words and exit 1, a template that does not parse exits 64, and an unknown container prints an empty line', async () => {
    const unknown = await run(["docker inspect --format '{{.State.Healthy}}' linkbox-backend"]);
    expect(unknown).toMatchObject({
      Status: 'Failed',
      ResponseCode: 1,
      StandardOutputContent: '\n',
      StandardErrorContent: 'template parsing error: template: :1:8: executing "" at <.State.Healthy>: map has no entry for key "Healthy"\n',
    });
    const unparsable = await run(["docker inspect --format '{{.State.Status' linkbox-backend"]);
    expect(unparsable).toMatchObject({ Status: 'Failed', ResponseCode: 64, StandardErrorContent: 'template parsing error: template: :1: unclosed action\n' });
    const missing = await run(["docker inspect --format '{{.State.Status}}' linkbox-frontend"]);
    expect(missing).toMatchObject({ Status: 'Failed', ResponseCode: 1, StandardOutputContent: '\n', StandardErrorContent: 'Error: No such object: linkbox-frontend\n' });
  });
});

describe('docker exec', () => {
  test('env, printenv and the seed\'s own `env | grep DATABASE_URL` print the environment with the password', async () => {
    const out = await run(['docker exec linkbox-backend env', 'docker exec linkbox-backend printenv DATABASE_URL', 'sudo docker exec linkbox-backend env | grep DATABASE_URL']);
    expect(out.Status).toBe('Success');
    const lines = out.StandardOutputContent!.split('\n');
    expect(lines[0]).toMatch(/^PATH=/);
    expect(lines[1]).toMatch(/^HOSTNAME=[0-9a-f]{12}$/);
    expect(lines).toContain(`DATABASE_URL=${databaseUrl()}`);
    expect(lines).toContain('HOME=/root');
    expect(out.StandardOutputContent).toMatch(new RegExp(`\\nHOME=/root\\n${escape(databaseUrl())}\\nDATABASE_URL=${escape(databaseUrl())}\\n$`));
  });

  test('printenv of an unset variable exits 1, grep without a match exits 1, and a stopped container cannot be exec\'d into', async () => {
    expect(await run(['docker exec linkbox-backend printenv NOT_SET'])).toMatchObject({ Status: 'Failed', ResponseCode: 1, StandardOutputContent: '' });
    expect(await run(['docker exec linkbox-backend env | grep -c NOT_SET'])).toMatchObject({ Status: 'Failed', ResponseCode: 1, StandardOutputContent: '0\n' });
    const target = lab.instances[1]!.id;
    const stopped = await run(['docker stop linkbox-backend', 'docker exec linkbox-backend env'], target);
    expect(stopped).toMatchObject({ Status: 'Failed', ResponseCode: 1 });
    expect(stopped.StandardErrorContent).toMatch(/^Error response from daemon: container [0-9a-f]{64} is not running\n$/);
    expect(await run(['docker start linkbox-backend', 'curl -sf http://localhost/health'], target)).toMatchObject({ Status: 'Success' });
  });

  test('a program the lab does not run in the container fails the whole script before anything runs', async () => {
    const out = await run(['docker exec linkbox-backend cat /proc/1/environ']);
    expect(out).toMatchObject({ Status: 'Failed', ResponseCode: 127, StandardOutputContent: '' });
    expect(out.StandardErrorContent).toMatch(/^lab: command not supported by the lab: docker exec \.\.\. cat/);
  });
});

describe('Run Command history', () => {
  test('ListCommands returns each command\'s lines as sent, and the AWS CLI\'s list-command-invocations --details returns what it printed', async () => {
    const sent = await run(['docker exec linkbox-backend printenv DATABASE_URL']);
    const listed = await ssm.send(new ListCommandsCommand({ CommandId: sent.commandId }));
    expect(listed.Commands![0]!.Parameters).toEqual({ commands: ['docker exec linkbox-backend printenv DATABASE_URL'] });
    const cli = await awsCli(lab, ['ssm', 'list-command-invocations', '--command-id', sent.commandId, '--details']);
    expect(cli.code, cli.stderr).toBe(0);
    const invocations = (cli.json as { CommandInvocations: Array<{ CommandPlugins: Array<{ Output: string }> }> }).CommandInvocations;
    expect(invocations[0]!.CommandPlugins[0]!.Output).toBe(`${databaseUrl()}\n`);
  });

  test('cuts output as SSM does: 24,000 characters of stdout and 8,000 of stderr, and a plugin\'s Output at 2,500 with the agent\'s markers', async () => {
    const long = await run([`echo ${'x'.repeat(30_000)}`]);
    expect(long.StandardOutputContent).toBe('x'.repeat(24_000));
    const listed = await awsCli(lab, ['ssm', 'list-command-invocations', '--command-id', long.commandId, '--details']);
    const output = (listed.json as { CommandInvocations: Array<{ CommandPlugins: Array<{ Output: string }> }> }).CommandInvocations[0]!.CommandPlugins[0]!.Output;
    expect(output).toBe(`${'x'.repeat(2500 - OUTPUT_TRUNCATED.length)}${OUTPUT_TRUNCATED}`);

    const name = 'n'.repeat(9000);
    const failing = await run([`echo ${'y'.repeat(2000)}`, `docker inspect ${name}`]);
    expect(failing.StandardErrorContent).toBe(`Error: No such object: ${name}\n`.slice(0, 8000));
    const both = await awsCli(lab, ['ssm', 'list-command-invocations', '--command-id', failing.commandId, '--details']);
    const mixed = (both.json as { CommandInvocations: Array<{ CommandPlugins: Array<{ Output: string }> }> }).CommandInvocations[0]!.CommandPlugins[0]!.Output;
    // Both streams long: each gets half of what is left after the error title and the two markers.
    const each = Math.floor((2500 - ERROR_TITLE.length - OUTPUT_TRUNCATED.length - ERROR_TRUNCATED.length) / 2);
    expect(mixed).toBe(`${'y'.repeat(each)}${OUTPUT_TRUNCATED}${ERROR_TITLE}${`Error: No such object: ${name}`.slice(0, each)}${ERROR_TRUNCATED}`);
  });

  test('GET /_lab/run-command/history gives every command\'s parameters and whole output, so a scan finds the password where a command printed it', async () => {
    const { status, body } = await labApi<{ commands: RunCommandRecord[] }>(lab, 'GET', '/_lab/run-command/history');
    expect(status).toBe(200);
    expect(body.commands.length).toBeGreaterThanOrEqual(10);
    const first = body.commands[0]!;
    expect(first).toMatchObject({ documentName: 'AWS-RunShellScript', parameters: { commands: ['docker inspect linkbox-backend'] }, instanceIds: [lab.instances[0]!.id] });
    expect(first.invocations[0]).toMatchObject({ instanceId: lab.instances[0]!.id, status: 'Success', responseCode: 0 });
    expect(first.invocations[0]!.stdout).toContain(password);

    const leaking = body.commands.filter((c) => JSON.stringify(c).includes(password)).map((c) => c.parameters.commands!.join('; '));
    expect(leaking).toContain('docker exec linkbox-backend printenv DATABASE_URL');
    expect(leaking.some((line) => line.includes('"status":{{json .State.Status}}'))).toBe(false);
    // The whole output is kept, not only what the API shows.
    expect(body.commands.some((c) => c.invocations.some((i) => i.stdout.length === 30_001))).toBe(true);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
