import type { RunbookId } from './types';

// Triage: an operator pastes what the backend printed and gets the runbooks that explain it. The
// pasted text can hold a DATABASE_URL with a password in it, so nothing here logs it, and nothing
// of it is returned: a match names our own pattern, never an excerpt of the paste.

/** "Over 10 kB" is refused: an error line and a stack trace fit well within it. */
export const TRIAGE_MAX_BYTES = 10_000;

export interface TriagePattern {
  /** What the operator sees as the reason for the match: our words, never their text. */
  label: string;
  /** Which driver or service prints it, to make the match explainable. */
  source: string;
  pattern: RegExp;
  /** Runbooks in the order to open them, per environment kind. */
  aws: RunbookId[];
  local: RunbookId[];
}

// Order matters only for the order of the reasons shown; every pattern that matches contributes.
export const TRIAGE_PATTERNS: TriagePattern[] = [
  {
    label: 'Connection refused',
    source: 'libpq / psycopg / asyncpg (ConnectionRefusedError, Errno 111)',
    pattern: /connection refused|ConnectionRefusedError|errno 111\b|ECONNREFUSED|connect call failed/i,
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Could not connect to server',
    source: 'libpq / psycopg2 ("could not connect to server", "connection to server at ... failed")',
    pattern: /could not connect to server|connection to server (at|on) .{0,200}? failed/i,
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Timeout expired',
    source: 'libpq connect_timeout / asyncpg / SQLAlchemy pool',
    pattern: /timeout expired|timed out|TimeoutError|ETIMEDOUT|QueuePool limit .{0,80}? timeout/i,
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Host name not found',
    source: 'libpq ("could not translate host name") / asyncpg (gaierror)',
    pattern: /could not translate host name|Name or service not known|nodename nor servname|gaierror|ENOTFOUND|Temporary failure in name resolution/i,
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Password authentication failed',
    source: 'PostgreSQL 28P01 (asyncpg InvalidPasswordError)',
    pattern: /password authentication failed for user|InvalidPasswordError|\b28P01\b/i,
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Role does not exist',
    source: 'PostgreSQL 28000 (asyncpg InvalidAuthorizationSpecificationError)',
    pattern: /role "[^"\n]{0,200}" does not exist|InvalidAuthorizationSpecificationError/i,
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Database does not exist',
    source: 'PostgreSQL 3D000 (asyncpg InvalidCatalogNameError)',
    pattern: /database "[^"\n]{0,200}" does not exist|InvalidCatalogNameError|\b3D000\b/i,
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    label: 'No pg_hba.conf entry',
    source: 'PostgreSQL (the server refused this host, user, database or SSL combination)',
    pattern: /no pg_hba\.conf entry/i,
    aws: ['authentication-failed', 'could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    label: 'Server closed the connection',
    source: 'libpq / asyncpg (ConnectionDoesNotExistError)',
    pattern: /server closed the connection unexpectedly|ConnectionDoesNotExistError|connection was closed in the middle of operation/i,
    aws: ['could-not-connect', 'container-unhealthy'],
    local: ['local-connection-refused'],
  },
  {
    label: 'AWS access denied',
    source: 'AWS CLI / SDK (AccessDeniedException, AccessDenied, not authorized to perform)',
    pattern: /AccessDenied(Exception)?|is not authorized to perform|UnauthorizedOperation/i,
    aws: ['could-not-connect', 'container-unhealthy'],
    local: [],
  },
  {
    label: 'KMS decryption denied',
    source: 'AWS KMS (the SecureString could not be decrypted)',
    pattern: /KMS\.\w+|kms:Decrypt|InvalidCiphertextException|KMSAccessDenied/i,
    aws: ['could-not-connect', 'container-unhealthy'],
    local: [],
  },
  {
    label: 'SSM parameter not found',
    source: 'AWS SSM (ParameterNotFound)',
    pattern: /ParameterNotFound|InvalidParameters?\b|ParameterVersionNotFound/i,
    aws: ['could-not-connect', 'authentication-failed'],
    local: [],
  },
  {
    label: 'Container unhealthy or exited',
    source: 'docker / the /health endpoint',
    pattern: /\bunhealthy\b|Exited \(\d+\)|is not running|Restarting \(\d+\)|503 Service Unavailable|\bHTTP\/\d(\.\d)? 503\b|No such container/i,
    aws: ['container-unhealthy'],
    local: [],
  },
];

export type TriageOutcome =
  | { ok: true; runbooks: RunbookId[]; reasons: Array<{ label: string; source: string; runbooks: RunbookId[] }> }
  | { ok: false; message: string };

export function triageErrorText(text: string, kind: 'aws' | 'local'): TriageOutcome {
  if (text.trim() === '') {
    return { ok: false, message: 'Paste the error message the backend printed (for example "password authentication failed for user").' };
  }
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > TRIAGE_MAX_BYTES) {
    return {
      ok: false,
      message: `The pasted text is ${bytes.toLocaleString('en')} bytes; paste at most 10 kB (${TRIAGE_MAX_BYTES.toLocaleString('en')} bytes) — the error line and a few lines around it are enough.`,
    };
  }
  const runbooks: RunbookId[] = [];
  const reasons: Array<{ label: string; source: string; runbooks: RunbookId[] }> = [];
  for (const p of TRIAGE_PATTERNS) {
    if (!p.pattern.test(text)) continue;
    const forKind = p[kind];
    if (forKind.length === 0) continue;
    reasons.push({ label: p.label, source: p.source, runbooks: forKind });
    for (const r of forKind) if (!runbooks.includes(r)) runbooks.push(r);
  }
  if (runbooks.length === 0) {
    return {
      ok: false,
      message:
        kind === 'local'
          ? 'No runbook matches this text. For a local backend, open "Local: Connection refused" or run the diagnosis.'
          : 'No runbook matches this text. Run the diagnosis: it runs every runbook and names the first failing check.',
    };
  }
  return { ok: true, runbooks, reasons };
}
