import { randomUUID } from 'node:crypto';
import type { AwsCall, AwsReply, Interceptor, RunCommandRecord } from '../contract';
import { planScript, runScript } from './commands';
import type { LabHost } from './host';

// Systems Manager Run Command and the SSM agents, answered by the lab (moto only pretends to run
// commands): SendCommand, GetCommandInvocation, ListCommandInvocations, ListCommands and
// DescribeInstanceInformation, in the JSON shapes and error codes of the real service. Like SSM,
// it keeps every command's parameters and output and hands them to anyone allowed to list them
// (for 30 days there; for the lab's life here), so whatever a console puts in a command line or
// makes a host print stays readable without the KMS key: history() lets tests check for that.

export interface RunCommandOptions {
  region: string;
  hosts: () => LabHost[];
  dbRoute: (sourceId: string) => { host: string; port: number };
  /** Re-reads the instances' EC2 state before an answer that depends on it. */
  refreshInstanceStates: () => Promise<void>;
  log: (line: string) => void;
}

const ACCOUNT_ID = '123456789012';
const DOCUMENT = 'AWS-RunShellScript';
const PLUGIN = 'aws:runShellScript';
const AGENT_VERSION = '3.3.1957.0';
/** GetCommandInvocation's documented limits: the first 24,000 characters of stdout, 8,000 of stderr. */
const STDOUT_LIMIT = 24_000;
const STDERR_LIMIT = 8_000;
/** The agent's MaximumPluginOutputSize: a plugin's Output in ListCommandInvocations (see pluginOutput). */
const PLUGIN_OUTPUT_LIMIT = 2_500;
const DEFAULT_TIMEOUT_S = 3600;

type InvocationStatus = 'Pending' | 'InProgress' | 'Success' | 'Failed';

interface Invocation {
  instanceId: string;
  instanceName: string;
  status: InvocationStatus;
  startedAt: Date | null;
  endedAt: Date | null;
  stdout: string;
  stderr: string;
  responseCode: number;
}

interface CommandRecord {
  commandId: string;
  comment: string;
  parameters: Record<string, string[]>;
  instanceIds: string[];
  targets: Array<{ Key: string; Values: string[] }>;
  requestedAt: Date;
  timeoutSeconds: number;
  invocations: Invocation[];
}

export interface RunCommand {
  interceptor: Interceptor;
  /** Every command sent so far, oldest first, with its parameters and each instance's whole output. */
  history(): RunCommandRecord[];
  stop(): void;
}

class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createRunCommand(options: RunCommandOptions): RunCommand {
  const commands: CommandRecord[] = [];
  /** One agent per host runs its commands one after another, so container operations never interleave. */
  const queues = new Map<string, Promise<void>>();
  let stopped = false;

  const handlers: Record<string, (input: Record<string, unknown>) => Promise<unknown>> = {
    SendCommand: sendCommand,
    GetCommandInvocation: async (input) => getCommandInvocation(input),
    ListCommandInvocations: async (input) => listCommandInvocations(input),
    ListCommands: async (input) => listCommands(input),
    DescribeInstanceInformation: describeInstanceInformation,
  };

  const interceptor: Interceptor = async (call: AwsCall): Promise<AwsReply | undefined> => {
    if (call.service !== 'ssm') return undefined;
    const handler = handlers[call.action];
    if (!handler) return undefined;
    try {
      return reply(200, await handler(call.input));
    } catch (err) {
      if (err instanceof ApiError) return reply(400, { __type: err.code, message: err.message }, err.code);
      throw err;
    }
  };

  async function sendCommand(input: Record<string, unknown>): Promise<unknown> {
    const documentName = str(input.DocumentName);
    if (!documentName) throw new ApiError('ValidationException', "1 validation error detected: Value null at 'documentName' failed to satisfy constraint: Member must not be null");
    if (documentName !== DOCUMENT) throw new ApiError('InvalidDocument', `Document with name ${documentName} does not exist. The lab runs ${DOCUMENT} only.`);
    const parameters = (input.Parameters ?? {}) as Record<string, unknown>;
    const lines = Array.isArray(parameters.commands) ? parameters.commands.map(String) : [];
    if (lines.length === 0) throw new ApiError('InvalidParameters', 'Parameter "commands" is required and must not be empty.');
    const instanceIds = Array.isArray(input.InstanceIds) ? input.InstanceIds.map(String) : [];
    const targets = Array.isArray(input.Targets) ? (input.Targets as Array<{ Key: string; Values: string[] }>) : [];
    if (instanceIds.length === 0 && targets.length === 0) throw new ApiError('ValidationException', 'Either InstanceIds or Targets must be specified.');
    if (instanceIds.length > 0 && targets.length > 0) throw new ApiError('ValidationException', 'InstanceIds and Targets cannot both be specified.');
    // As SSM: a command reaches at most 50 instances by id.
    if (instanceIds.length > 50) {
      throw new ApiError('ValidationException', `1 validation error detected: Value '[${instanceIds.join(', ')}]' at 'instanceIds' failed to satisfy constraint: Member must have length less than or equal to 50`);
    }

    await options.refreshInstanceStates();
    const all = options.hosts();
    let chosen: LabHost[];
    if (instanceIds.length > 0) {
      const bad = instanceIds.filter((id) => all.find((h) => h.id === id)?.ec2State !== 'running');
      if (bad.length > 0) throw new ApiError('InvalidInstanceId', `Instances [[${bad.join(', ')}]] not in a valid state for account ${ACCOUNT_ID}`);
      chosen = instanceIds.map((id) => all.find((h) => h.id === id)!);
    } else {
      chosen = all.filter((h) => h.ec2State === 'running' && targets.every((t) => matchesTarget(h, t)));
    }

    const timeoutSeconds = Number(input.TimeoutSeconds ?? DEFAULT_TIMEOUT_S) || DEFAULT_TIMEOUT_S;
    const record: CommandRecord = {
      commandId: randomUUID(),
      comment: str(input.Comment) ?? '',
      parameters: Object.fromEntries(Object.entries(parameters).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : [String(v)]])),
      instanceIds: instanceIds.length > 0 ? instanceIds : [],
      targets,
      requestedAt: new Date(),
      timeoutSeconds,
      invocations: chosen.map((h) => ({
        instanceId: h.id,
        instanceName: '',
        status: 'Pending',
        startedAt: null,
        endedAt: null,
        stdout: '',
        stderr: '',
        responseCode: -1,
      })),
    };
    commands.push(record);
    for (const invocation of record.invocations) {
      const host = chosen.find((h) => h.id === invocation.instanceId)!;
      enqueue(host, () => execute(host, lines, invocation, record.commandId));
    }
    return { Command: commandShape(record) };
  }

  function enqueue(host: LabHost, job: () => Promise<void>): void {
    const previous = queues.get(host.id) ?? Promise.resolve();
    const next = previous.then(job).catch((err: unknown) => options.log(`[${host.id}] run command failed inside the lab: ${(err as Error).message}`));
    queues.set(host.id, next);
  }

  async function execute(host: LabHost, lines: string[], invocation: Invocation, commandId: string): Promise<void> {
    if (stopped) return;
    invocation.status = 'InProgress';
    invocation.startedAt = new Date();
    const plan = planScript(lines);
    const output = plan.ok
      ? await runScript(plan, {
          container: host.container,
          rdsEndpointAddress: host.rdsEndpointAddress,
          dbRoute: options.dbRoute(host.id),
          containerPortFor: (name) => containerPortFor(host, name),
          runApplication: async (image) => {
            const outcome = await host.container.run(image);
            await afterStart(host);
            return outcome.ok ? { ok: true, containerId: host.container.inspect().id } : outcome;
          },
          afterStart: () => afterStart(host),
        })
      : plan.output;
    invocation.stdout = output.stdout;
    invocation.stderr = output.stderr;
    invocation.responseCode = output.exitCode;
    invocation.endedAt = new Date();
    invocation.status = output.exitCode === 0 ? 'Success' : 'Failed';
    options.log(`[${host.id}] command ${commandId} ${invocation.status} (exit ${output.exitCode})`);
  }

  async function afterStart(host: LabHost): Promise<void> {
    await host.afterContainerStart();
  }

  function containerPortFor(host: LabHost, name: string): number | undefined {
    if (name === 'localhost' || name === '127.0.0.1' || name === host.privateIp) return host.container.port;
    return options.hosts().find((h) => h.privateIp === name && h.ec2State === 'running')?.container.port;
  }

  function find(commandId: string | undefined): CommandRecord | undefined {
    return commands.find((c) => c.commandId === commandId);
  }

  function getCommandInvocation(input: Record<string, unknown>): unknown {
    const record = find(str(input.CommandId));
    const invocation = record?.invocations.find((i) => i.instanceId === str(input.InstanceId));
    if (!record || !invocation) throw new ApiError('InvocationDoesNotExist', '');
    const plugin = str(input.PluginName);
    if (plugin !== undefined && plugin !== PLUGIN) throw new ApiError('InvalidPluginName', '');
    const started = invocation.startedAt;
    const ended = invocation.endedAt;
    return {
      CommandId: record.commandId,
      InstanceId: invocation.instanceId,
      Comment: record.comment,
      DocumentName: DOCUMENT,
      DocumentVersion: '$DEFAULT',
      PluginName: PLUGIN,
      ResponseCode: invocation.responseCode,
      ExecutionStartDateTime: started ? started.toISOString() : '',
      ExecutionElapsedTime: started ? `PT${(((ended ?? new Date()).getTime() - started.getTime()) / 1000).toFixed(3)}S` : '',
      ExecutionEndDateTime: ended ? ended.toISOString() : '',
      Status: invocation.status,
      StatusDetails: invocation.status,
      StandardOutputContent: invocation.stdout.slice(0, STDOUT_LIMIT),
      StandardOutputUrl: '',
      StandardErrorContent: invocation.stderr.slice(0, STDERR_LIMIT),
      StandardErrorUrl: '',
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  function listCommandInvocations(input: Record<string, unknown>): unknown {
    const commandId = str(input.CommandId);
    const instanceId = str(input.InstanceId);
    if (commandId !== undefined && !find(commandId)) throw new ApiError('InvalidCommandId', '');
    const details = input.Details === true;
    const rows = newestFirst(commands)
      .filter((c) => commandId === undefined || c.commandId === commandId)
      .flatMap((c) => c.invocations.filter((i) => instanceId === undefined || i.instanceId === instanceId).map((i) => invocationShape(c, i, details)));
    return page(rows, input, 'CommandInvocations');
  }

  function listCommands(input: Record<string, unknown>): unknown {
    const commandId = str(input.CommandId);
    const instanceId = str(input.InstanceId);
    if (commandId !== undefined && !find(commandId)) throw new ApiError('InvalidCommandId', '');
    const rows = newestFirst(commands)
      .filter((c) => commandId === undefined || c.commandId === commandId)
      .filter((c) => instanceId === undefined || c.invocations.some((i) => i.instanceId === instanceId))
      .map(commandShape);
    return page(rows, input, 'Commands');
  }

  async function describeInstanceInformation(input: Record<string, unknown>): Promise<unknown> {
    await options.refreshInstanceStates();
    const oldFilters = Array.isArray(input.InstanceInformationFilterList)
      ? (input.InstanceInformationFilterList as Array<{ key: string; valueSet: string[] }>).map((f) => ({ Key: f.key, Values: f.valueSet }))
      : [];
    const filters = [...oldFilters, ...(Array.isArray(input.Filters) ? (input.Filters as Array<{ Key: string; Values: string[] }>) : [])];
    const rows = options
      .hosts()
      .filter((h) => h.ec2State !== 'terminated')
      .map((h) => instanceInformation(h))
      .filter((info) => filters.every((f) => matchesInformationFilter(info, f)));
    return page(rows, input, 'InstanceInformationList');
  }

  function instanceInformation(host: LabHost): Record<string, unknown> & { PingStatus: string; InstanceId: string } {
    const online = host.ec2State === 'running';
    return {
      InstanceId: host.id,
      PingStatus: online ? 'Online' : 'ConnectionLost',
      LastPingDateTime: epoch(online ? new Date() : host.agentPingAt),
      AgentVersion: AGENT_VERSION,
      IsLatestVersion: true,
      PlatformType: 'Linux',
      PlatformName: 'Amazon Linux',
      PlatformVersion: '2023',
      ResourceType: 'EC2Instance',
      IPAddress: host.privateIp,
      ComputerName: `ip-${host.privateIp.replaceAll('.', '-')}.${options.region}.compute.internal`,
      AssociationStatus: 'Success',
      LastAssociationExecutionDate: epoch(host.agentStartedAt),
      LastSuccessfulAssociationExecutionDate: epoch(host.agentStartedAt),
      SourceId: host.id,
      SourceType: 'AWS::EC2::Instance',
      Name: host.name,
    };
  }

  function matchesInformationFilter(info: Record<string, unknown>, filter: { Key: string; Values: string[] }): boolean {
    const values = filter.Values ?? [];
    switch (filter.Key) {
      case 'InstanceIds':
        return values.includes(String(info.InstanceId));
      case 'PingStatus':
        return values.includes(String(info.PingStatus));
      case 'PlatformTypes':
        return values.includes(String(info.PlatformType));
      case 'ResourceType':
        return values.includes(String(info.ResourceType));
      case 'AgentVersion':
        return values.includes(String(info.AgentVersion));
      case 'tag:Name':
        return values.some((v) => globMatch(v, String(info.Name)));
      default:
        throw new ApiError('InvalidInstanceInformationFilterValue', `The lab does not filter instance information by ${filter.Key}.`);
    }
  }

  function commandShape(record: CommandRecord): Record<string, unknown> {
    const statuses = record.invocations.map((i) => i.status);
    const done = statuses.filter((s) => s === 'Success' || s === 'Failed').length;
    const errors = statuses.filter((s) => s === 'Failed').length;
    const status =
      statuses.length === 0 || done === statuses.length
        ? errors > 0
          ? 'Failed'
          : 'Success'
        : statuses.every((s) => s === 'Pending')
          ? 'Pending'
          : 'InProgress';
    return {
      CommandId: record.commandId,
      DocumentName: DOCUMENT,
      DocumentVersion: '$DEFAULT',
      Comment: record.comment,
      ExpiresAfter: epoch(new Date(record.requestedAt.getTime() + record.timeoutSeconds * 1000)),
      Parameters: record.parameters,
      InstanceIds: record.instanceIds,
      Targets: record.targets,
      RequestedDateTime: epoch(record.requestedAt),
      Status: status,
      StatusDetails: status,
      OutputS3Region: options.region,
      OutputS3BucketName: '',
      OutputS3KeyPrefix: '',
      MaxConcurrency: '50',
      MaxErrors: '0',
      TargetCount: record.invocations.length,
      CompletedCount: done,
      ErrorCount: errors,
      DeliveryTimedOutCount: 0,
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
      TimeoutSeconds: record.timeoutSeconds,
    };
  }

  function invocationShape(record: CommandRecord, invocation: Invocation, details: boolean): Record<string, unknown> {
    return {
      CommandId: record.commandId,
      InstanceId: invocation.instanceId,
      InstanceName: invocation.instanceName,
      Comment: record.comment,
      DocumentName: DOCUMENT,
      DocumentVersion: '$DEFAULT',
      RequestedDateTime: epoch(record.requestedAt),
      Status: invocation.status,
      StatusDetails: invocation.status,
      TraceOutput: '',
      StandardOutputUrl: '',
      StandardErrorUrl: '',
      CommandPlugins: details
        ? [
            {
              Name: PLUGIN,
              Status: invocation.status,
              StatusDetails: invocation.status,
              ResponseCode: invocation.responseCode,
              ...(invocation.startedAt ? { ResponseStartDateTime: epoch(invocation.startedAt) } : {}),
              ...(invocation.endedAt ? { ResponseFinishDateTime: epoch(invocation.endedAt) } : {}),
              Output: pluginOutput(invocation.stdout, invocation.stderr, PLUGIN_OUTPUT_LIMIT),
              StandardOutputUrl: '',
              StandardErrorUrl: '',
              OutputS3Region: options.region,
              OutputS3BucketName: '',
              OutputS3KeyPrefix: '',
            },
          ]
        : [],
      ServiceRole: '',
      NotificationConfig: { NotificationArn: '', NotificationEvents: [], NotificationType: '' },
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '', CloudWatchOutputEnabled: false },
    };
  }

  return {
    interceptor,
    history: () =>
      commands.map((record) => ({
        commandId: record.commandId,
        requestedAt: record.requestedAt.toISOString(),
        documentName: DOCUMENT,
        comment: record.comment,
        parameters: structuredClone(record.parameters),
        instanceIds: [...record.instanceIds],
        targets: structuredClone(record.targets),
        invocations: record.invocations.map((i) => ({ instanceId: i.instanceId, status: i.status, responseCode: i.responseCode, stdout: i.stdout, stderr: i.stderr })),
      })),
    stop() {
      stopped = true;
    },
  };
}

const ERROR_TITLE = '\n----------ERROR-------\n';
const OUTPUT_TRUNCATED = '\n---Output truncated---';
const ERROR_TRUNCATED = '\n---Error truncated----';

/**
 * The agent's TruncateOutput (amazon-ssm-agent, iohandler): stdout and stderr joined under an error
 * title, cut to `capacity` with each stream's own marker, sharing the room when both are long.
 */
export function pluginOutput(stdout: string, stderr: string, capacity: number): string {
  const title = stderr.length > 0 ? ERROR_TITLE : '';
  const available = capacity - title.length;
  const half = Math.floor(available / 2);
  if (stdout.length + stderr.length < available) return `${stdout}${title}${stderr}`;
  if (stdout.length > half && stderr.length > half) {
    const each = Math.floor((available - ERROR_TRUNCATED.length - OUTPUT_TRUNCATED.length) / 2);
    return `${stdout.slice(0, each)}${OUTPUT_TRUNCATED}${title}${stderr.slice(0, each)}${ERROR_TRUNCATED}`;
  }
  if (stdout.length < half) return `${stdout}${title}${stderr.slice(0, available - ERROR_TRUNCATED.length - stdout.length)}${ERROR_TRUNCATED}`;
  return `${stdout.slice(0, available - OUTPUT_TRUNCATED.length - stderr.length)}${OUTPUT_TRUNCATED}${title}${stderr}`;
}

function matchesTarget(host: LabHost, target: { Key: string; Values: string[] }): boolean {
  const values = target.Values ?? [];
  if (target.Key === 'InstanceIds') return values.includes(host.id);
  if (target.Key === 'tag:Name') return values.some((v) => globMatch(v, host.name));
  // The lab knows only the Name tag of its instances.
  if (target.Key?.startsWith('tag:')) return false;
  throw new ApiError('InvalidTarget', `The lab resolves targets by InstanceIds or tag:Name only, not ${target.Key}.`);
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(value);
}

function page<T>(rows: T[], input: Record<string, unknown>, key: string): Record<string, unknown> {
  const max = Math.min(Math.max(Number(input.MaxResults ?? 50) || 50, 1), 50);
  const start = Number(str(input.NextToken) ?? 0) || 0;
  const slice = rows.slice(start, start + max);
  return { [key]: slice, ...(start + max < rows.length ? { NextToken: String(start + max) } : {}) };
}

function newestFirst(commands: CommandRecord[]): CommandRecord[] {
  return [...commands].reverse();
}

function epoch(date: Date): number {
  return date.getTime() / 1000;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function reply(status: number, body: unknown, errorType?: string): AwsReply {
  return {
    status,
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': randomUUID(),
      ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
    },
    body: JSON.stringify(body),
  };
}
