import { randomUUID } from 'node:crypto';
import { IAMClient } from '@aws-sdk/client-iam';
import type { AwsCall, AwsReply, Interceptor } from '../contract';
import { InvalidPrincipalArnError, NoSuchEntityError, principalPolicies } from '../iam/policies';
import { evaluatePrincipal, PolicyEvaluationError, type PolicySource, type RequestContext } from '../iam/policy-evaluator';

// iam:SimulatePrincipalPolicy (and SimulateCustomPolicy), which moto lacks: the principal's inline
// and attached managed policies (and permissions boundary) are read from moto directly and
// evaluated by the same evaluator the gateway enforces with, so a policy changed with the AWS CLI
// changes the answer, as on AWS. ContextEntries feed the conditions; a condition key a matching
// statement needs and the request lacks is reported in MissingContextValues. The answer is IAM's XML.

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
      const boundaryInput = members(call.input, 'PermissionsBoundaryPolicyInputList').map((document, i) => ({
        id: `PermissionsBoundaryPolicyInputList.${i + 1}`,
        type: 'none' as const,
        document,
      }));
      let identity: PolicySource[];
      let boundary: PolicySource | null = boundaryInput[0] ?? null;
      if (call.action === 'SimulatePrincipalPolicy') {
        const arn = typeof call.input.PolicySourceArn === 'string' ? call.input.PolicySourceArn : '';
        if (!arn) throw new IamError(400, 'ValidationError', "1 validation error detected: Value null at 'policySourceArn' failed to satisfy constraint: Member must not be null");
        const held = await principalPolicies(iam, arn);
        identity = [...held.identity, ...extra];
        boundary ??= held.boundary;
      } else {
        if (extra.length === 0) throw new IamError(400, 'ValidationError', "1 validation error detected: Value null at 'policyInputList' failed to satisfy constraint: Member must not be null");
        identity = extra;
      }
      return xmlReply(200, simulationXml(call.action, { identity, boundary }, actions, resources, contextEntries(call.input)));
    } catch (err) {
      if (err instanceof IamError) return xmlReply(err.status, errorXml(err));
      if (err instanceof NoSuchEntityError) return xmlReply(404, errorXml(new IamError(404, 'NoSuchEntity', err.message)));
      if (err instanceof InvalidPrincipalArnError) return xmlReply(400, errorXml(new IamError(400, 'InvalidInput', err.message)));
      if (err instanceof PolicyEvaluationError) return xmlReply(500, errorXml(new IamError(500, 'PolicyEvaluation', `The lab could not evaluate a policy: ${err.message}`)));
      throw err;
    }
  };
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

/** `ContextEntries.member.N.ContextKeyName` with `.ContextKeyValues.member.M` (a list for *List types). */
function contextEntries(input: Record<string, unknown>): RequestContext {
  const context: RequestContext = {};
  for (const [key, value] of Object.entries(input)) {
    const m = /^ContextEntries\.member\.(\d+)\.ContextKeyName$/.exec(key);
    if (!m || typeof value !== 'string') continue;
    const values = members(input, `ContextEntries\\.member\\.${m[1]}\\.ContextKeyValues`);
    const type = String(input[`ContextEntries.member.${m[1]}.ContextKeyType`] ?? 'string');
    context[value] = type.toLowerCase().endsWith('list') ? values : (values[0] ?? '');
  }
  return context;
}

function simulationXml(
  action: string,
  policies: { identity: PolicySource[]; boundary: PolicySource | null },
  actions: string[],
  resources: string[],
  context: RequestContext,
): string {
  const results: string[] = [];
  for (const actionName of actions) {
    for (const resource of resources.length > 0 ? resources : ['*']) {
      const result = evaluatePrincipal(policies, { action: actionName, resource, context });
      const statements = result.matched
        .map(
          (s) =>
            `<member><SourcePolicyId>${esc(s.sourcePolicyId)}</SourcePolicyId><SourcePolicyType>${s.sourcePolicyType}</SourcePolicyType>` +
            `<StartPosition><Line>${s.start.line}</Line><Column>${s.start.column}</Column></StartPosition>` +
            `<EndPosition><Line>${s.end.line}</Line><Column>${s.end.column}</Column></EndPosition></member>`,
        )
        .join('');
      const missing = result.missingContextValues.map((k) => `<member>${esc(k)}</member>`).join('');
      const boundaryDetail = policies.boundary
        ? `<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>${result.deniedBy !== 'permissions boundary'}</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>`
        : '';
      results.push(
        `<member><EvalActionName>${esc(actionName)}</EvalActionName><EvalResourceName>${esc(resource)}</EvalResourceName>` +
          `<EvalDecision>${result.decision}</EvalDecision><MatchedStatements>${statements}</MatchedStatements>` +
          `<MissingContextValues>${missing}</MissingContextValues>` +
          `<OrganizationsDecisionDetail><AllowedByOrganizations>true</AllowedByOrganizations></OrganizationsDecisionDetail>${boundaryDetail}</member>`,
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
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.status >= 500 ? 'Receiver' : 'Sender'}</Type>` +
    `<Code>${esc(err.code)}</Code><Message>${esc(err.message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
  );
}

function xmlReply(status: number, body: string): AwsReply {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': randomUUID() }, body };
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
