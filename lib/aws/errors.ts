import { redact, shorten } from '@/lib/redact';

// Turns any SDK or network failure into a "could not check" reason. These reasons describe the
// console's view of AWS, never LinkBox's health, so callers must report them as `error`.

export type AwsErrorKind = 'throttled' | 'denied' | 'kms-denied' | 'timeout' | 'not-found' | 'network' | 'unknown';

export interface AwsErrorDescription {
  kind: AwsErrorKind;
  message: string;
}

const THROTTLED = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
  'BandwidthLimitExceeded',
  'LimitExceededException',
]);

const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'UnauthorizedOperation',
  'UnauthorizedAccess',
  'AuthFailure',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'ExpiredToken',
  'ExpiredTokenException',
  'SignatureDoesNotMatch',
  'MissingAuthenticationToken',
  'CredentialsProviderError',
  'OptInRequired',
]);

// KMS failures surface through SSM under several names; all mean "the key refused us".
const KMS = new Set([
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
  'KMSOptInRequired',
  'InvalidKeyId',
  'DisabledException',
  'KeyUnavailableException',
  'IncorrectKeyException',
]);

const TIMEOUT = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'AbortError', 'ETIMEDOUT', 'ESOCKETTIMEDOUT']);

const NOT_FOUND = new Set([
  'DBInstanceNotFound',
  'DBInstanceNotFoundFault',
  'ParameterNotFound',
  'InvalidGroup.NotFound',
  'InvalidInstanceID.NotFound',
  'InvalidInstanceId',
  'InvocationDoesNotExist',
  'ResourceNotFoundException',
  'NoSuchEntity',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

export interface DescribeOptions {
  /** The AWS action that failed, for the message ("GetParameters"). */
  action?: string;
  /** Values that must never appear in the message (a candidate password, say). */
  redact?: string[];
}

export function describeAwsError(err: unknown, opts: DescribeOptions = {}): AwsErrorDescription {
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const name = str(e.name) ?? str(e.Code) ?? '';
  const code = str(e.code) ?? str((e.cause as ErrorLike | undefined)?.code) ?? '';
  const raw = str(e.message) ?? name ?? 'unknown error';
  const status = e.$metadata?.httpStatusCode;
  const what = opts.action ? `${opts.action}: ` : '';
  // Redacted whole before it is cut short, so a secret across the cut cannot survive in part.
  const detail = shorten(redact(raw, opts.redact), 300);

  let kind: AwsErrorKind;
  if (KMS.has(name) || (DENIED.has(name) && /\bkms\b|kms:/i.test(raw))) kind = 'kms-denied';
  else if (THROTTLED.has(name) || e.$retryable?.throttling || status === 429) kind = 'throttled';
  else if (DENIED.has(name) || status === 403) kind = 'denied';
  else if (TIMEOUT.has(name) || TIMEOUT.has(code) || /timed? ?out/i.test(raw)) kind = 'timeout';
  else if (NOT_FOUND.has(name) || /NotFound/.test(name)) kind = 'not-found';
  else if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name) || /ECONNREFUSED|ENOTFOUND|socket hang up|fetch failed/i.test(raw))
    kind = 'network';
  else kind = 'unknown';

  const label = name && name !== 'Error' ? `${name}: ` : code ? `${code}: ` : '';
  switch (kind) {
    case 'throttled':
      return { kind, message: `${what}AWS is throttling the console's requests (${label}${detail}); try again shortly` };
    case 'denied':
      return { kind, message: `${what}the console's AWS identity is not allowed to do this (${label}${detail})` };
    case 'kms-denied':
      return { kind, message: `${what}KMS refused to decrypt the SecureString; the console's role needs kms:Decrypt on the parameter's key (${label}${detail})` };
    case 'timeout':
      return { kind, message: `${what}no answer in time (${label}${detail})` };
    case 'not-found':
      return { kind, message: `${what}not found (${label}${detail})` };
    case 'network':
      return { kind, message: `${what}cannot reach the AWS endpoint (${label}${detail})` };
    default:
      return { kind, message: `${what}${label}${detail}` };
  }
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
