import { randomUUID } from 'node:crypto';
import {
  GetGroupPolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsForUserCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
} from '@aws-sdk/client-iam';
import type { AwsCall, AwsReply, Interceptor } from '../contract';
import { evaluate, type PolicySource } from './policy-evaluator';

// iam:SimulatePrincipalPolicy (and SimulateCustomPolicy), which moto lacks: the principal's inline
// and attached managed policies are read from moto directly and evaluated by policy-evaluator.ts,
// so a policy changed with the AWS CLI changes the answer, as on AWS. The answer is IAM's XML.

const XMLNS = 'https://iam.amazonaws.com/doc/2010-05-08/';

export interface IamSimulatorOptions {
  /** moto's own address: reading policies through the gateway would count in its request counters. */
  motoEndpoint: string;
}

class IamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function createIamSimulator(options: IamSimulatorOptions): Interceptor {
  const iam = new IAMClient({
    region: 'us-east-1',
    endpoint: options.motoEndpoint,
    credentials: { accessKeyId: 'LABIAMSIM', secretAccessKey: 'lab-not-a-secret' },
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
  });

  return async (call: AwsCall): Promise<AwsReply | undefined> => {
    if (call.service !== 'iam' || (call.action !== 'SimulatePrincipalPolicy' && call.action !== 'SimulateCustomPolicy')) return undefined;
    try {
      const actions = members(call.input, 'ActionNames');
      if (actions.length === 0) throw new IamError(400, 'ValidationError', "1 validation error detected: Value null at 'actionNames' failed to satisfy constraint: Member must not be null");
      const resources = members(call.input, 'ResourceArns');
      const extra = members(call.input, 'PolicyInputList').map((document, i) => ({ id: `PolicyInputList.${i + 1}`, type: 'none' as const, document }));
      let sources: PolicySource[];
      if (call.action === 'SimulatePrincipalPolicy') {
        const arn = typeof call.input.PolicySourceArn === 'string' ? call.input.PolicySourceArn : '';
        if (!arn) throw new IamError(400, 'ValidationError', "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null");
        sources = [...(await principalPolicies(iam, arn)), ...extra];
      } else {
        if (extra.length === 0) throw new IamError(400, 'ValidationError', "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null");
        sources = extra;
      }
      return xmlReply(200, simulationXml(call.action, sources, actions, resources));
    } catch (err) {
      if (err instanceof IamError) return xmlReply(err.status, errorXml(err));
      if (err instanceof SyntaxError) return xmlReply(400, errorXml(new IamError(400, 'MalformedPolicyDocument', 'The policy document is not valid JSON.')));
      throw err;
    }
  };
}

/** The policies IAM evaluates for a user, group or role (an instance profile stands for its role). */
export async function principalPolicies(iam: IAMClient, arn: string): Promise<PolicySource[]> {
  const match = /^arn:aws[a-z-]*:iam::\d{12}:(role|user|group|instance-profile)\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (!match) throw new IamError(400, 'InvalidInput', `Invalid ARN: ${arn} is not the ARN of a user, group or role.`);
  const [, kind, name] = match as unknown as [string, string, string];
  try {
    if (kind === 'instance-profile') {
      const profile = await iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }));
      const role = profile.InstanceProfile?.Roles?.[0]?.RoleName;
      if (!role) throw new IamError(400, 'InvalidInput', `Instance profile ${name} has no role.`);
      return rolePolicies(iam, role);
    }
    if (kind === 'role') return await rolePolicies(iam, name);
    if (kind === 'group') return await groupPolicies(iam, name);
    const own = await userPolicies(iam, name);
    const groups = await iam.send(new ListGroupsForUserCommand({ UserName: name }));
    const fromGroups = await Promise.all((groups.Groups ?? []).map((g) => groupPolicies(iam, g.GroupName!)));
    return [...own, ...fromGroups.flat()];
  } catch (err) {
    if ((err as Error).name === 'NoSuchEntityException' || (err as Error).name === 'NoSuchEntity') {
      throw new IamError(404, 'NoSuchEntity', `The ${kind === 'instance-profile' ? 'instance profile' : kind} with name ${name} cannot be found.`);
    }
    throw err;
  }
}

async function rolePolicies(iam: IAMClient, role: string): Promise<PolicySource[]> {
  const inline = await iam.send(new ListRolePoliciesCommand({ RoleName: role }));
  const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role }));
  const own = await Promise.all(
    (inline.PolicyNames ?? []).map(async (policy) => {
      const out = await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }));
      return { id: policy, type: 'role' as const, document: decodeDocument(out.PolicyDocument) };
    }),
  );
  return [...own, ...(await managed(iam, attached.AttachedPolicies ?? []))];
}

async function userPolicies(iam: IAMClient, user: string): Promise<PolicySource[]> {
  const inline = await iam.send(new ListUserPoliciesCommand({ UserName: user }));
  const attached = await iam.send(new ListAttachedUserPoliciesCommand({ UserName: user }));
  const own = await Promise.all(
    (inline.PolicyNames ?? []).map(async (policy) => {
      const out = await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: policy }));
      return { id: policy, type: 'user' as const, document: decodeDocument(out.PolicyDocument) };
    }),
  );
  return [...own, ...(await managed(iam, attached.AttachedPolicies ?? []))];
}

async function groupPolicies(iam: IAMClient, group: string): Promise<PolicySource[]> {
  const inline = await iam.send(new ListGroupPoliciesCommand({ GroupName: group }));
  const attached = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: group }));
  const own = await Promise.all(
    (inline.PolicyNames ?? []).map(async (policy) => {
      const out = await iam.send(new GetGroupPolicyCommand({ GroupName: group, PolicyName: policy }));
      return { id: policy, type: 'group' as const, document: decodeDocument(out.PolicyDocument) };
    }),
  );
  return [...own, ...(await managed(iam, attached.AttachedPolicies ?? []))];
}

async function managed(iam: IAMClient, attached: Array<{ PolicyArn?: string; PolicyName?: string }>): Promise<PolicySource[]> {
  return Promise.all(
    attached.map(async ({ PolicyArn, PolicyName }) => {
      const policy = await iam.send(new GetPolicyCommand({ PolicyArn }));
      const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn, VersionId: policy.Policy?.DefaultVersionId }));
      return {
        id: PolicyName ?? PolicyArn ?? '',
        type: PolicyArn?.includes(':aws:policy/') ? ('aws-managed' as const) : ('user-managed' as const),
        document: decodeDocument(version.PolicyVersion?.Document),
      };
    }),
  );
}

/** IAM's query API returns policy documents URL-encoded; moto does too. */
function decodeDocument(document: string | undefined): string {
  if (!document) return '{}';
  return document.trimStart().startsWith('{') ? document : decodeURIComponent(document);
}

/** `ActionNames.member.1`, `ActionNames.member.2`, ... in order. */
function members(input: Record<string, unknown>, name: string): string[] {
  const found: Array<[number, string]> = [];
  for (const [key, value] of Object.entries(input)) {
    const m = new RegExp(`^${name}\\.member\\.(\\d+)$`).exec(key);
    if (m && typeof value === 'string') found.push([Number(m[1]), value]);
  }
  return found.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

function simulationXml(action: string, sources: PolicySource[], actions: string[], resources: string[]): string {
  const results: string[] = [];
  for (const actionName of actions) {
    for (const resource of resources.length > 0 ? resources : ['*']) {
      const result = evaluate(sources, actionName, resource);
      const statements = result.matched
        .map(
          (s) =>
            `<member><SourcePolicyId>${esc(s.sourcePolicyId)}</SourcePolicyId><SourcePolicyType>${s.sourcePolicyType}</SourcePolicyType>` +
            `<StartPosition><Line>${s.start.line}</Line><Column>${s.start.column}</Column></StartPosition>` +
            `<EndPosition><Line>${s.end.line}</Line><Column>${s.end.column}</Column></EndPosition></member>`,
        )
        .join('');
      const missing = result.missingContextValues.map((k) => `<member>${esc(k)}</member>`).join('');
      results.push(
        `<member><EvalActionName>${esc(actionName)}</EvalActionName><EvalResourceName>${esc(resource)}</EvalResourceName>` +
          `<EvalDecision>${result.decision}</EvalDecision><MatchedStatements>${statements}</MatchedStatements>` +
          `<MissingContextValues>${missing}</MissingContextValues>` +
          `<OrganizationsDecisionDetail><AllowedByOrganizations>true</AllowedByOrganizations></OrganizationsDecisionDetail></member>`,
      );
    }
  }
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${XMLNS}"><${action}Result>` +
    `<IsTruncated>false</IsTruncated><EvaluationResults>${results.join('')}</EvaluationResults></${action}Result>` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
  );
}

function errorXml(err: IamError): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type>` +
    `<Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  );
}

function xmlReply(status: number, body: string): AwsReply {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }, body };
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
