import { randomUUID } from 'node:crypto';
import type { AwsReply, LabErrorCode } from '../contract';

// Error answers in each service's own wire format, so the SDK and the AWS CLI parse, retry and
// report them exactly as they would a real AWS error.

export const JSON_SERVICES = new Set(['ssm', 'kms']);
export const KNOWN_SERVICES = ['ssm', 'rds', 'ec2', 'iam', 'sts', 'kms'] as const;

const QUERY_NAMESPACES: Record<string, string> = {
  rds: 'http://rds.amazonaws.com/doc/2014-10-31/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
};

export interface ServiceError {
  code: string;
  message: string;
  status: number;
  /** Query protocol only: who is at fault. */
  type: 'Sender' | 'Receiver';
}

/** A lab fault's error as the given service really words it (RDS throttles with `Throttling`, EC2 with `RequestLimitExceeded`). */
export function labError(service: string, error: LabErrorCode): ServiceError {
  const json = JSON_SERVICES.has(service);
  switch (error) {
    case 'ThrottlingException':
    case 'RequestLimitExceeded':
      if (json) return { code: 'ThrottlingException', message: 'Rate exceeded', status: 400, type: 'Sender' };
      if (service === 'ec2') return { code: 'RequestLimitExceeded', message: 'Request limit exceeded.', status: 503, type: 'Sender' };
      return { code: 'Throttling', message: 'Rate exceeded', status: 400, type: 'Sender' };
    case 'AccessDeniedException':
      if (json) return { code: 'AccessDeniedException', message: 'User is not authorized to perform this action (lab fault)', status: 400, type: 'Sender' };
      if (service === 'ec2') return { code: 'UnauthorizedOperation', message: 'You are not authorized to perform this operation. (lab fault)', status: 403, type: 'Sender' };
      return { code: 'AccessDenied', message: 'User is not authorized to perform this action (lab fault)', status: 403, type: 'Sender' };
    case 'InternalError':
      if (json) return { code: 'InternalServerError', message: 'An internal error occurred (lab fault)', status: 500, type: 'Receiver' };
      return { code: 'InternalError', message: 'An internal error occurred (lab fault)', status: 500, type: 'Receiver' };
  }
}

export function errorReply(service: string, error: ServiceError): AwsReply {
  const requestId = randomUUID();
  if (JSON_SERVICES.has(service)) {
    return {
      status: error.status,
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId },
      body: JSON.stringify({ __type: error.code, message: error.message }),
    };
  }
  const xmlHeaders = { 'content-type': 'text/xml', 'x-amzn-requestid': requestId };
  if (service === 'ec2') {
    return {
      status: error.status,
      headers: xmlHeaders,
      body:
        '<?xml version="1.0" encoding="UTF-8"?>\n' +
        `<Response><Errors><Error><Code>${xml(error.code)}</Code><Message>${xml(error.message)}</Message></Error></Errors>` +
        `<RequestID>${requestId}</RequestID></Response>`,
    };
  }
  const ns = QUERY_NAMESPACES[service];
  return {
    status: error.status,
    headers: xmlHeaders,
    body:
      `<ErrorResponse${ns ? ` xmlns="${ns}"` : ''}><Error><Type>${error.type}</Type><Code>${xml(error.code)}</Code>` +
      `<Message>${xml(error.message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
  };
}

export function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
