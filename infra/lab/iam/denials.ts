import { randomUUID } from 'node:crypto';
import type { AwsCall, AwsReply } from '../contract';
import { errorReply, xml } from '../gateway/replies';
import type { PolicyKind, RequestContext } from './policy-evaluator';

// AccessDenied as each AWS service words and wires it:
//   "User: <principal> is not authorized to perform: <action> on resource: <arn> because no
//    identity-based policy allows the <action> action"  (implicit deny)
//   "... with an explicit deny in an identity-based policy"  (explicit deny)
// ("on resource: ..." is left out for actions checked on "*"). SSM and KMS answer
// AccessDeniedException (JSON, 400); a KMS denial met while SSM decrypts a SecureString comes back
// through SSM with KMS's own suffix; RDS, IAM, STS and CloudFormation answer AccessDenied (query
// XML, 403); EC2 answers UnauthorizedOperation (403), with an encoded authorization message that
// sts:DecodeAuthorizationMessage turns back into the decision.

export type DenialReason =
  | { kind: 'implicit'; by: PolicyKind }
  | { kind: 'explicit'; by: PolicyKind }
  /** A role's trust policy did not let the caller assume it (or there is no such role). */
  | { kind: 'trust' }
  /** A policy the lab cannot evaluate: the call is refused, never silently allowed. */
  | { kind: 'unevaluable'; detail: string };

export interface Denial {
  call: AwsCall;
  principalArn: string;
  principalId: string;
  action: string;
  resource: string;
  reason: DenialReason;
  onBehalfOf?: 'ssm';
  context: RequestContext;
}

const ARTICLE: Record<PolicyKind, string> = {
  'identity-based policy': 'an',
  'permissions boundary': 'a',
  'session policy': 'a',
  'resource-based policy': 'a',
};

export function denialMessage(d: Pick<Denial, 'principalArn' | 'action' | 'resource' | 'reason'>): string {
  const head = `User: ${d.principalArn} is not authorized to perform: ${d.action}${d.resource === '*' ? '' : ` on resource: ${d.resource}`}`;
  switch (d.reason.kind) {
    case 'implicit':
      return `${head} because no ${d.reason.by} allows the ${d.action} action`;
    case 'explicit':
      return `${head} with an explicit deny in ${ARTICLE[d.reason.by]} ${d.reason.by}`;
    case 'trust':
      return head;
    case 'unevaluable':
      return `${head} because the lab cannot evaluate the policies that apply: ${d.reason.detail}`;
  }
}

export function denialReply(d: Denial): AwsReply {
  const message = denialMessage(d);
  if (d.onBehalfOf === 'ssm') {
    // SSM passes KMS's refusal on, in the wording of the Java SDK it calls KMS with.
    const kms = `${message} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: ${randomUUID()}; Proxy: null)`;
    return errorReply(d.call.service, { code: 'AccessDeniedException', message: kms, status: 400, type: 'Sender' });
  }
  if (d.call.service === 'ssm' || d.call.service === 'kms') {
    return errorReply(d.call.service, { code: 'AccessDeniedException', message, status: 400, type: 'Sender' });
  }
  if (d.call.service === 'ec2') {
    // EC2's reads carry no encoded message; its changes do.
    const encoded = d.call.action.startsWith('Describe') ? '' : ` Encoded authorization failure message: ${encodeAuthorizationMessage(d)}`;
    return errorReply('ec2', { code: 'UnauthorizedOperation', message: `You are not authorized to perform this operation. ${message}.${encoded}`, status: 403, type: 'Sender' });
  }
  return errorReply(d.call.service, { code: 'AccessDenied', message, status: 403, type: 'Sender' });
}

/** Access keys the lab cannot tie to a principal (a host key for an instance without a role). */
export function invalidCredentialsReply(call: AwsCall): AwsReply {
  if (call.service === 'ssm' || call.service === 'kms') {
    return errorReply(call.service, { code: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.', status: 400, type: 'Sender' });
  }
  if (call.service === 'ec2') return errorReply('ec2', { code: 'AuthFailure', message: 'AWS was not able to validate the provided access credentials', status: 401, type: 'Sender' });
  return errorReply(call.service, { code: 'InvalidClientTokenId', message: 'The security token included in the request is invalid.', status: 403, type: 'Sender' });
}

const ENCODED_PREFIX = 'lab-';

/** The decoded form is what DecodeAuthorizationMessage returns on AWS: decision, principal, action, resource, conditions. */
function encodeAuthorizationMessage(d: Denial): string {
  const decoded = {
    allowed: false,
    explicitDeny: d.reason.kind === 'explicit',
    matchedStatements: { items: [] },
    failures: { items: [] },
    context: {
      principal: { id: d.principalId, arn: d.principalArn },
      action: d.action,
      resource: d.resource,
      conditions: {
        items: Object.entries(d.context).map(([key, value]) => ({ key, values: { items: (Array.isArray(value) ? value : [value]).map((v) => ({ value: v })) } })),
      },
    },
  };
  return ENCODED_PREFIX + Buffer.from(JSON.stringify(decoded), 'utf8').toString('base64url');
}

/** sts:DecodeAuthorizationMessage for the messages the lab encoded. */
export function decodeAuthorizationMessageReply(call: AwsCall): AwsReply {
  const encoded = typeof call.input.EncodedMessage === 'string' ? call.input.EncodedMessage : '';
  let decoded: string | undefined;
  if (encoded.startsWith(ENCODED_PREFIX)) {
    try {
      decoded = JSON.stringify(JSON.parse(Buffer.from(encoded.slice(ENCODED_PREFIX.length), 'base64url').toString('utf8')));
    } catch {
      decoded = undefined;
    }
  }
  if (!decoded) {
    return errorReply('sts', { code: 'InvalidAuthorizationMessageException', message: 'The encoded authorization message is invalid.', status: 400, type: 'Sender' });
  }
  const requestId = randomUUID();
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body:
      `<DecodeAuthorizationMessageResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><DecodeAuthorizationMessageResult>` +
      `<DecodedMessage>${xml(decoded)}</DecodedMessage></DecodeAuthorizationMessageResult>` +
      `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></DecodeAuthorizationMessageResponse>`,
  };
}
