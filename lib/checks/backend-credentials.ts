import 'server-only';
import { parameterName } from '@/lib/aws/parameters';
import { passwordOrCouldNotCheck, type AwsCheckContext } from './context';
import { judgeBackendCredentials, type BackendCredentialsVerdict, type BackendReading, type CredentialField, type PsqlReading, type StoredCredentials } from './database-url';
import { rotationPage } from './fixes';
import type { CheckDefinition } from './run';
import type { CheckFix, Evidence, Verdict } from './types';

// db.login logs in with the four SSM values as separate fields; the backends do not: they get them
// through start_application.sh's unencoded DATABASE_URL and their URL parsers. This check replays that
// chain in memory (lib/checks/database-url.ts) and fails when what the backends would send differs
// from what SSM (and so RDS, once db.login passes) holds — naming the parameter and the kind of
// character, never a value. The password is the run's one decrypted read, shared with db.login.

const CHAIN = 'start_application.sh → Pydantic AnyUrl → SQLAlchemy make_url → psycopg2';

const FIELD_WORDS: Record<CredentialField, string> = { user: 'user name', password: 'password', host: 'host', port: 'port', database: 'database name' };

export const backendCredentialsCheck: CheckDefinition<AwsCheckContext> = {
  id: 'db.backend-credentials',
  kinds: ['aws'],
  async run(ctx) {
    const { env } = ctx;
    const params = (await ctx.parameters()).parameters;
    const plain = { endpoint: params['db-endpoint']?.value, username: params['db-username']?.value, name: params['db-name']?.value };
    const missing = (['db-endpoint', 'db-username', 'db-name'] as const).filter((k) => params[k]?.value === undefined);
    if (missing.length > 0 || !params['db-password']) {
      return { status: 'skip', summary: `${missing.map((k) => parameterName(env, k)).join(', ') || parameterName(env, 'db-password')} does not exist (see ssm.parameters)`, evidence: {} };
    }
    const read = await passwordOrCouldNotCheck(ctx);
    if ('verdict' in read) return read.verdict;
    const { password } = read;
    const stored: StoredCredentials = { endpoint: plain.endpoint!, username: plain.username!, name: plain.name!, password };
    return verdictFor(env, stored, judgeBackendCredentials(stored, env.dbPort));
  },
};

function verdictFor(env: AwsCheckContext['env'], stored: StoredCredentials, v: BackendCredentialsVerdict): Verdict {
  const evidence: Evidence = { chain: CHAIN, backendSends: sendsText(stored, v.reading), 'psql $DATABASE_URL': psqlText(v) };
  if (v.reading.ok) evidence.backendSslmode = v.reading.options.sslmode ?? 'prefer (libpq\'s default: TLS when the server offers it)';
  const because = v.cause ? `${parameterName(env, v.cause.parameter)} holds ${v.cause.kinds.join(' and ')}` : null;
  if (because) evidence.cause = because;

  if (!v.reading.ok) {
    const stage = v.reading.stage;
    const what =
      stage === 'docker-run'
        ? `start_application.sh cannot start the container: the unquoted -e DATABASE_URL=$DATABASE_URL splits at whitespace (${v.reading.error})`
        : stage === 'settings'
          ? `the backend dies at start: Pydantic rejects DATABASE_URL (${v.reading.error})`
          : stage === 'create-engine'
            ? `the backend dies creating its engine: SQLAlchemy cannot use DATABASE_URL (${v.reading.error})`
            : `every connection the backend opens fails before it reaches the database (${v.reading.error})`;
    evidence.stage = stage;
    return { status: 'fail', summary: because ? `${capitalise(what)}, because ${because}` : capitalise(what), evidence, fix: fixFor(env, v) };
  }
  if (v.differences.length === 0) {
    return { status: 'pass', summary: `The backends would send exactly the SSM values (${CHAIN.split(' → ').slice(1).join(', ')} change none of them)`, evidence };
  }
  const fields = v.differences.map((d) => (d.parameter ? `another ${FIELD_WORDS[d.field]} than ${parameterName(env, d.parameter)} holds` : `port ${v.reading.ok ? v.reading.sends.port : '?'} where the database listens on ${env.dbPort}`));
  return {
    status: 'fail',
    summary: `The backends would log in with ${fields.join(', ')}${because ? `: ${because}, which their URL parsing changes` : ''}; the console's own login (separate fields) does not see it`,
    evidence,
    fix: fixFor(env, v),
  };
}

function fixFor(env: AwsCheckContext['env'], v: BackendCredentialsVerdict): CheckFix {
  if (v.cause?.parameter === 'db-password' || (!v.cause && v.differences.some((d) => d.field === 'password'))) {
    return {
      summary: `Rotate the password from the console (${rotationPage(env)}): its generator uses only letters, digits and -_.~, which pass through DATABASE_URL unchanged, and it restarts the backends with the new one.`,
    };
  }
  if (v.cause) {
    return {
      summary: `Store ${parameterName(env, v.cause.parameter)} without ${v.cause.kinds.join(' or ')} (the user name must stay the RDS master user, the database name one that exists), then restart the backends so start_application.sh rebuilds DATABASE_URL.`,
    };
  }
  return { summary: `start_application.sh writes port 5432 into DATABASE_URL; make it use the port the database listens on (${env.dbPort}), then restart the backends.` };
}

/** What the backend would send, field by field; a value is shown only when it is the stored, non-secret one. */
function sendsText(stored: StoredCredentials, reading: BackendReading): string {
  if (!reading.ok) return `nothing: the chain stops at ${reading.stage}`;
  const s = reading.sends;
  const field = (name: string, sent: string | null, expected: string, show: boolean) =>
    `${name} ${sent === null ? 'not sent' : (sent || '') === expected ? (show ? sent : 'as stored') : 'differs from SSM'}`;
  return [
    field('user', s.user, stored.username, true),
    field('password', s.password, stored.password, false),
    field('host', s.host, stored.endpoint, true),
    `port ${s.port}`,
    field('database', s.database, stored.name, true),
  ].join(', ');
}

function psqlText(v: BackendCredentialsVerdict): string {
  const psql: PsqlReading = v.psql;
  if (!psql.ok) return v.reading.ok ? `fails where the backend connects: ${psql.error}` : `fails too: ${psql.error}`;
  if (!v.reading.ok) return 'connects where the backend cannot: the seed\'s psql test does not reproduce the backend\'s failure';
  if (v.psqlDiffers.length === 0) return 'sends the same as the backend';
  return `sends another ${v.psqlDiffers.map((f) => FIELD_WORDS[f]).join(', ')} than the backend: its result is no proof either way`;
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export const BACKEND_CREDENTIAL_CHECKS = [backendCredentialsCheck];
