import { describe, expect, it } from 'vitest';
import { TRIAGE_MAX_BYTES, triageErrorText } from '@/lib/runbooks/triage';
import type { RunbookId } from '@/lib/runbooks/types';

// Real texts as the drivers print them (libpq through psycopg2/psycopg 3, asyncpg, SQLAlchemy's
// wrapping, the AWS CLI in start_application.sh, docker).
const table: Array<{ name: string; text: string; aws: RunbookId[]; local: RunbookId[] }> = [
  {
    name: 'libpq connection refused (psycopg2, old wording)',
    text: 'psycopg2.OperationalError: could not connect to server: Connection refused\n\tIs the server running on host "localhost" (127.0.0.1) and accepting\n\tTCP/IP connections on port 5432?',
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'psycopg 3 connection refused wrapped by SQLAlchemy',
    text: 'sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'asyncpg connection refused',
    text: "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 5432)",
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'libpq timeout expired (a security group dropping packets)',
    text: 'psycopg2.OperationalError: connection to server at "linkbox-db.abc.eu-west-1.rds.amazonaws.com" (10.0.2.15), port 5432 failed: timeout expired',
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'asyncpg timeout',
    text: 'asyncio.exceptions.TimeoutError\nsqlalchemy.exc.TimeoutError',
    aws: ['could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'password authentication failed (libpq)',
    text: 'FATAL:  password authentication failed for user "linkbox"',
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    name: 'password authentication failed (asyncpg)',
    text: 'asyncpg.exceptions.InvalidPasswordError: password authentication failed for user "linkbox"',
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    name: 'database does not exist',
    text: 'sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) FATAL:  database "linkbox_prod" does not exist',
    aws: ['authentication-failed'],
    local: ['local-connection-refused'],
  },
  {
    name: 'no pg_hba.conf entry',
    text: 'FATAL:  no pg_hba.conf entry for host "10.0.1.23", user "linkbox", database "linkbox", no encryption',
    aws: ['authentication-failed', 'could-not-connect'],
    local: ['local-connection-refused'],
  },
  {
    name: 'AWS AccessDeniedException from the start script',
    text: 'An error occurred (AccessDeniedException) when calling the GetParameter operation: User: arn:aws:sts::123456789012:assumed-role/linkbox-backend-role/i-0abc is not authorized to perform: ssm:GetParameter on resource: arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/db-password',
    aws: ['could-not-connect', 'container-unhealthy'],
    local: [],
  },
  {
    name: 'SSM ParameterNotFound',
    text: 'An error occurred (ParameterNotFound) when calling the GetParameter operation: ',
    aws: ['could-not-connect', 'authentication-failed'],
    local: [],
  },
  {
    name: 'a container that exited',
    text: 'CONTAINER ID   IMAGE   STATUS\n3f2a   linkbox   Exited (137) 2 minutes ago',
    aws: ['container-unhealthy'],
    local: [],
  },
];

describe('triage of a pasted error message', () => {
  for (const row of table) {
    it(`matches ${row.name} to the runbooks for a production environment`, () => {
      const outcome = triageErrorText(row.text, 'aws');
      expect(outcome).toMatchObject({ ok: true, runbooks: row.aws });
    });
    it(`matches ${row.name} to the runbooks for the local environment`, () => {
      const outcome = triageErrorText(row.text, 'local');
      if (row.local.length === 0) expect(outcome.ok).toBe(false);
      else expect(outcome).toMatchObject({ ok: true, runbooks: row.local });
    });
  }

  it('names the pattern that matched without echoing any of the pasted text', () => {
    const secretish = 'postgresql://linkbox:Sup3r-Secret-Value@db:5432/linkbox password authentication failed for user "linkbox"';
    const outcome = triageErrorText(secretish, 'aws');
    expect(outcome.ok).toBe(true);
    expect(JSON.stringify(outcome)).not.toContain('Sup3r-Secret-Value');
    expect(JSON.stringify(outcome)).not.toContain('postgresql://');
  });

  it('refuses an empty or blank paste with a message saying what to paste', () => {
    for (const text of ['', '   \n\t ']) {
      const outcome = triageErrorText(text, 'aws');
      expect(outcome).toMatchObject({ ok: false });
      if (!outcome.ok) expect(outcome.message).toMatch(/paste the error message/i);
    }
  });

  it('refuses a paste over 10 kB and says how big it was', () => {
    const outcome = triageErrorText('Connection refused\n'.padEnd(TRIAGE_MAX_BYTES + 1, 'x'), 'aws');
    expect(outcome).toMatchObject({ ok: false });
    if (!outcome.ok) expect(outcome.message).toMatch(/10 kB/);
  });

  it('accepts a paste of exactly 10 kB', () => {
    const outcome = triageErrorText('Connection refused\n'.padEnd(TRIAGE_MAX_BYTES, 'x'), 'aws');
    expect(outcome.ok).toBe(true);
  });

  it('counts bytes, not characters, so a multi-byte paste cannot slip past the limit', () => {
    const outcome = triageErrorText('Connection refused ' + 'é'.repeat(TRIAGE_MAX_BYTES / 2), 'aws');
    expect(outcome.ok).toBe(false);
  });

  it('says no runbook matched for a text none of the patterns know', () => {
    const outcome = triageErrorText('KeyError: user_id', 'aws');
    expect(outcome).toMatchObject({ ok: false });
    if (!outcome.ok) expect(outcome.message).toMatch(/run the diagnosis/i);
  });
});
