import { setTimeout as sleep } from 'node:timers/promises';
import { createHash, createHmac } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import type { Lab } from './contract';

// deployStack: a CloudFormation stack created in the lab the way `aws cloudformation deploy` would —
// CreateStack through the gateway (so IAM is enforced on it and it is counted), wait for
// CREATE_COMPLETE, report what was created. moto's CloudFormation creates many resource types and
// silently skips the ones it does not know (the stack still completes, the skipped resources are
// simply absent), so the result lists those separately: a test can tell "deployed" from "deployed
// as far as moto goes". A resource that moto fails to create leaves the stack in CREATE_IN_PROGRESS
// behind an HTTP 500; the error then quotes moto's own exception from its log.

export interface StackDeployment {
  name: string;
  /** The template as JSON text (what `cdk synth` writes) or an object. */
  templateBody: string | object;
  parameters?: Record<string, string>;
  /** Defaults to CAPABILITY_IAM and CAPABILITY_NAMED_IAM, as a deploy of IAM resources needs. */
  capabilities?: string[];
  /** Who deploys; the lab's admin by default. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  timeoutMs?: number;
}

export interface StackResource {
  logicalId: string;
  type: string;
  physicalId: string;
  status: string;
}

export interface SkippedResource {
  logicalId: string;
  type: string;
  reason: string;
}

export interface DeployedStack {
  stackId: string;
  status: string;
  resources: StackResource[];
  /** Template resources the stack does not have: types moto's CloudFormation does not implement, or a false Condition. */
  skipped: SkippedResource[];
  outputs: Record<string, string>;
}

export class StackDeploymentError extends Error {
  constructor(
    message: string,
    readonly events: Array<{ logicalId: string; status: string; reason: string }>,
  ) {
    super(message);
    this.name = 'StackDeploymentError';
  }
}

const DEPLOYER = { accessKeyId: 'LABDEPLOY', secretAccessKey: 'lab-not-a-secret' };
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'member' });

export async function deployStack(lab: Pick<Lab, 'awsEndpoint' | 'region' | 'configPath'>, deployment: StackDeployment): Promise<DeployedStack> {
  const templateBody = typeof deployment.templateBody === 'string' ? deployment.templateBody : JSON.stringify(deployment.templateBody);
  const template = parseTemplate(templateBody);
  const call = (action: string, params: Record<string, string>) => cloudFormation(lab, deployment.credentials ?? DEPLOYER, action, params);
  const motoLog = join(dirname(lab.configPath), 'moto.log');
  const logFrom = await stat(motoLog).then((s) => s.size, () => 0);

  const params: Record<string, string> = { StackName: deployment.name, TemplateBody: templateBody };
  Object.entries(deployment.parameters ?? {}).forEach(([key, value], i) => {
    params[`Parameters.member.${i + 1}.ParameterKey`] = key;
    params[`Parameters.member.${i + 1}.ParameterValue`] = value;
  });
  (deployment.capabilities ?? ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM']).forEach((c, i) => (params[`Capabilities.member.${i + 1}`] = c));

  const created = await call('CreateStack', params);
  if (created.status !== 200) {
    const events = await stackEvents(call, deployment.name).catch(() => []);
    const detail = created.error ?? (await motoException(motoLog, logFrom)) ?? `HTTP ${created.status}`;
    throw new StackDeploymentError(`CreateStack ${deployment.name} failed: ${detail}${describeEvents(events)}`, events);
  }
  const stackId = String(created.result?.StackId ?? '');

  const deadline = Date.now() + (deployment.timeoutMs ?? 60_000);
  let stack: Record<string, unknown> | undefined;
  for (;;) {
    const described = await call('DescribeStacks', { StackName: stackId || deployment.name });
    stack = (described.result?.Stacks as { member?: Array<Record<string, unknown>> } | undefined)?.member?.[0];
    const status = String(stack?.StackStatus ?? '');
    if (status && !status.endsWith('_IN_PROGRESS')) break;
    if (Date.now() > deadline) {
      const events = await stackEvents(call, deployment.name);
      throw new StackDeploymentError(`stack ${deployment.name} is still ${status || 'unknown'} after ${(deployment.timeoutMs ?? 60_000) / 1000} s${describeEvents(events)}`, events);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const status = String(stack?.StackStatus);
  if (status !== 'CREATE_COMPLETE') {
    const events = await stackEvents(call, deployment.name);
    throw new StackDeploymentError(`stack ${deployment.name} ended ${status}${stack?.StackStatusReason ? `: ${String(stack.StackStatusReason)}` : ''}${describeEvents(events)}`, events);
  }

  const resources: StackResource[] = [];
  let NextToken: string | undefined;
  do {
    const page = await call('ListStackResources', { StackName: stackId, ...(NextToken ? { NextToken } : {}) });
    for (const r of (page.result?.StackResourceSummaries as { member?: Array<Record<string, string>> } | undefined)?.member ?? []) {
      // moto lists a skipped resource as an empty row.
      if (!r.LogicalResourceId) continue;
      resources.push({ logicalId: r.LogicalResourceId, type: r.ResourceType ?? '', physicalId: r.PhysicalResourceId ?? '', status: r.ResourceStatus ?? '' });
    }
    NextToken = page.result?.NextToken ? String(page.result.NextToken) : undefined;
  } while (NextToken);

  const unsupported = await unsupportedTypes(motoLog, logFrom);
  const present = new Set(resources.map((r) => r.logicalId));
  const skipped = Object.entries(template.Resources ?? {})
    .filter(([logicalId]) => !present.has(logicalId))
    .map(([logicalId, r]) => ({
      logicalId,
      type: r.Type ?? '',
      reason: r.Condition
        ? `its Condition ${r.Condition} may be false`
        : unsupported.has(r.Type ?? '')
          ? `moto's CloudFormation does not implement ${r.Type}`
          : 'moto did not create it',
    }));
  const outputs = Object.fromEntries(
    ((stack?.Outputs as { member?: Array<Record<string, string>> } | undefined)?.member ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
  );
  return { stackId, status, resources, skipped, outputs };
}

interface Template {
  Resources?: Record<string, { Type?: string; Condition?: string }>;
}

function parseTemplate(body: string): Template {
  try {
    return JSON.parse(body) as Template;
  } catch {
    throw new StackDeploymentError('deployStack takes a JSON template (what cdk synth writes); this one is not JSON', []);
  }
}

async function stackEvents(
  call: (action: string, params: Record<string, string>) => Promise<QueryAnswer>,
  stackName: string,
): Promise<Array<{ logicalId: string; status: string; reason: string }>> {
  const out = await call('DescribeStackEvents', { StackName: stackName });
  return ((out.result?.StackEvents as { member?: Array<Record<string, string>> } | undefined)?.member ?? []).map((e) => ({
    logicalId: e.LogicalResourceId ?? '',
    status: e.ResourceStatus ?? '',
    reason: e.ResourceStatusReason ?? '',
  }));
}

function describeEvents(events: Array<{ logicalId: string; status: string; reason: string }>): string {
  if (events.length === 0) return '';
  return `; stack events (newest first): ${events.map((e) => `${e.logicalId} ${e.status}${e.reason ? ` (${e.reason})` : ''}`).join(', ')}`;
}

/**
 * The last Python exception moto logged since `from` ("KeyError: 'AssumeRolePolicyDocument'"). moto
 * writes its traceback a moment after it answered 500, so a busy machine is given a few seconds.
 */
async function motoException(logPath: string, from: number): Promise<string | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const text = await readFile(logPath, 'utf8').then((t) => t.slice(from), () => '');
    const lines = text.split('\n');
    const last = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('Traceback')).pop();
    const exception = last && lines.slice(last[1] + 1).find((l) => /^[A-Za-z_.]+(Error|Exception)\b/.test(l));
    if (exception) return `moto raised ${exception.trim()}`;
    await sleep(250);
  }
  return undefined;
}

async function unsupportedTypes(logPath: string, from: number): Promise<Set<string>> {
  const text = await readFile(logPath, 'utf8').then((t) => t.slice(from), () => '');
  return new Set([...text.matchAll(/No Moto CloudFormation support for (\S+)/g)].map((m) => m[1]!));
}

interface QueryAnswer {
  status: number;
  result?: Record<string, unknown>;
  error?: string;
}

/** One CloudFormation query-protocol call, signed with SigV4 as the SDK would sign it. */
async function cloudFormation(
  lab: Pick<Lab, 'awsEndpoint' | 'region'>,
  credentials: { accessKeyId: string; secretAccessKey: string },
  action: string,
  params: Record<string, string>,
): Promise<QueryAnswer> {
  const body = new URLSearchParams({ Action: action, Version: '2010-05-15', ...params }).toString();
  const url = new URL(lab.awsEndpoint);
  const headers = signV4({ method: 'POST', host: url.host, path: '/', body, region: lab.region, service: 'cloudformation', credentials });
  const res = await fetch(`${lab.awsEndpoint}/`, { method: 'POST', headers, body, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = parser.parse(text) as Record<string, unknown>;
  } catch {
    // moto answers an internal error with an HTML page
  }
  const error = (parsed.ErrorResponse as { Error?: { Code?: string; Message?: string } } | undefined)?.Error;
  const result = (parsed[`${action}Response`] as Record<string, unknown> | undefined)?.[`${action}Result`] as Record<string, unknown> | undefined;
  return { status: res.status, result, error: error ? `${error.Code}: ${error.Message}` : undefined };
}

function signV4(req: {
  method: string;
  host: string;
  path: string;
  body: string;
  region: string;
  service: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}): Record<string, string> {
  const amzDate = new Date().toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const contentType = 'application/x-www-form-urlencoded; charset=utf-8';
  const payloadHash = sha256(req.body);
  const canonicalHeaders = `content-type:${contentType}\nhost:${req.host}\nx-amz-date:${amzDate}\n`;
  const signedHeaders = 'content-type;host;x-amz-date';
  const canonical = [req.method, req.path, '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const scope = `${day}/${req.region}/${req.service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  let key: Buffer = hmac(`AWS4${req.credentials.secretAccessKey}`, day);
  for (const part of [req.region, req.service, 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return {
    'content-type': contentType,
    'x-amz-date': amzDate,
    authorization: `AWS4-HMAC-SHA256 Credential=${req.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function hmac(key: string | Buffer, text: string): Buffer {
  return createHmac('sha256', key).update(text).digest();
}
