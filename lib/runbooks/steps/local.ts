import 'server-only';
import type { LocalCheckContext } from '@/lib/checks/context';
import { localDatabaseUrl, parseDatabaseUrl } from '@/lib/checks/local';
import type { CheckDefinition } from '@/lib/checks/run';
import type { Verdict } from '@/lib/checks/types';
import { probePostgres, type TcpProbe } from '@/lib/probes';
import { maskUrlPassword } from '@/lib/redact';
import type { RunbookOnlyStepId } from '../types';

// The seed's local "Connection refused" checklist, one question per step: which DATABASE_URL the
// backend uses (.env over the default in config.py), whether it is well-formed, whether anything
// listens where it points, and the docker-compose commands to run. The URL is read and parsed by
// the status engine's own helpers; the password is only ever shown masked.

type Ctx = LocalCheckContext;

const COMPOSE_COMMANDS = ['cd backend', 'docker-compose ps', 'docker-compose logs db', 'docker-compose up -d db'];
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1']);

function fromEnvFile(source: string): boolean {
  return !source.startsWith('default');
}

async function localUrlFormat(ctx: Ctx): Promise<Verdict> {
  const inUse = await localDatabaseUrl(ctx.env);
  const parsed = parseDatabaseUrl(inUse.url);
  const evidence = { DATABASE_URL: maskUrlPassword(inUse.url), source: inUse.source };
  if ('problem' in parsed) {
    return {
      status: 'fail',
      summary: `DATABASE_URL is not well-formed: ${parsed.problem}`,
      evidence,
      fix: {
        summary: `Write it in the docker-compose form, e.g. ${maskUrlPassword(ctx.env.defaultDatabaseUrl)} (the password is POSTGRES_PASSWORD in docker-compose.yml)`,
        commands: fromEnvFile(inUse.source) ? [`grep -n DATABASE_URL ${inUse.source.replace(/ \(DATABASE_URL line\)$/, '')}`] : undefined,
      },
    };
  }
  return {
    status: 'pass',
    summary: `DATABASE_URL points at ${parsed.host}:${parsed.port}, database ${parsed.database}, user ${parsed.user}`,
    evidence: { ...evidence, host: parsed.host, port: parsed.port, database: parsed.database, user: parsed.user },
  };
}

async function localEnvOverride(ctx: Ctx): Promise<Verdict> {
  const inUse = await localDatabaseUrl(ctx.env);
  const evidence = { '.env': ctx.env.envFile ?? 'not configured', 'DATABASE_URL from': inUse.source };
  if (!fromEnvFile(inUse.source)) return { status: 'pass', summary: 'No .env sets DATABASE_URL: the default from config.py is in use', evidence };
  if (inUse.url === ctx.env.defaultDatabaseUrl) return { status: 'pass', summary: '.env sets DATABASE_URL to the same value as the default', evidence };
  const def = parseDatabaseUrl(ctx.env.defaultDatabaseUrl);
  const cur = parseDatabaseUrl(inUse.url);
  const differs: string[] = [];
  if (!('problem' in def) && !('problem' in cur)) {
    if (def.host !== cur.host) differs.push(`host ${cur.host} instead of ${def.host}`);
    if (def.port !== cur.port) differs.push(`port ${cur.port} instead of ${def.port}`);
    if (def.database !== cur.database) differs.push(`database ${cur.database} instead of ${def.database}`);
    if (def.user !== cur.user) differs.push(`user ${cur.user} instead of ${def.user}`);
  }
  return {
    status: 'warn',
    summary: `.env overrides the default DATABASE_URL${differs.length ? `: ${differs.join(', ')}` : ' (only the password or spelling differs)'}`,
    evidence: { ...evidence, 'in use': maskUrlPassword(inUse.url), default: maskUrlPassword(ctx.env.defaultDatabaseUrl) },
    fix: {
      summary: 'If the docker-compose database is the one you mean, remove DATABASE_URL from .env or make it match docker-compose.yml',
      commands: [`grep -n DATABASE_URL ${ctx.env.envFile ?? '.env'}`],
    },
  };
}

function probeEvidence(probe: TcpProbe): string {
  return probe.outcome === 'answered' ? `PostgreSQL answered in ${probe.latencyMs} ms` : `${probe.outcome}: ${probe.detail}`;
}

async function probeInUse(ctx: Ctx) {
  const inUse = await localDatabaseUrl(ctx.env);
  const parsed = parseDatabaseUrl(inUse.url);
  if ('problem' in parsed) return null;
  const probe = await probePostgres(parsed.host, parsed.port, Math.max(500, ctx.budgetMs - 500));
  return { host: parsed.host, port: parsed.port, probe };
}

async function localListening(ctx: Ctx): Promise<Verdict> {
  const found = await probeInUse(ctx);
  if (!found) return { status: 'skip', summary: 'DATABASE_URL is not well-formed, so there is no host and port to try', evidence: {} };
  const { host, port, probe } = found;
  const evidence = { host, port, result: probeEvidence(probe) };
  const fix = { summary: 'Start the docker-compose database and check that it came up', commands: COMPOSE_COMMANDS };
  switch (probe.outcome) {
    case 'answered':
      return { status: 'pass', summary: `PostgreSQL listens at ${host}:${port}`, evidence };
    case 'refused':
      return { status: 'fail', summary: `Nothing listens at ${host}:${port}: the connection is refused`, evidence, fix };
    case 'connect-timeout':
    case 'no-answer':
      return {
        status: 'fail',
        summary: `${host}:${port} does not answer (timed out): a firewall drops the packets, or the host is wrong`,
        evidence,
        fix: { summary: 'Check the host in DATABASE_URL: the docker-compose database listens on localhost', commands: COMPOSE_COMMANDS },
      };
    case 'dns':
      return {
        status: 'fail',
        summary: `The host name ${host} does not resolve`,
        evidence,
        fix: { summary: 'Outside docker-compose the database is at localhost, not at the service name "db"', commands: COMPOSE_COMMANDS },
      };
    case 'closed':
      return { status: 'fail', summary: `Something at ${host}:${port} accepts connections but is not PostgreSQL`, evidence, fix };
    default:
      return { status: 'error', summary: `Could not check ${host}:${port}: ${probe.detail}`, evidence };
  }
}

/** The seed's docker-compose commands, with whether the compose database is the one answering. */
async function localComposeDb(ctx: Ctx): Promise<Verdict> {
  const found = await probeInUse(ctx);
  const fix = { summary: 'Start the database, then read its log if it stops again', commands: COMPOSE_COMMANDS };
  if (!found) return { status: 'skip', summary: 'DATABASE_URL is not well-formed', evidence: {}, fix };
  const local = LOCAL_HOSTS.has(found.host);
  const evidence = { 'compose service': 'db (postgres:15)', host: found.host, port: found.port, result: probeEvidence(found.probe) };
  if (!local) {
    return { status: 'skip', summary: `DATABASE_URL points at ${found.host}, not at the docker-compose database on localhost`, evidence, fix };
  }
  if (found.probe.outcome === 'answered') {
    return {
      status: 'pass',
      summary: 'The docker-compose database answers on localhost',
      evidence,
      fix: { summary: 'To look inside it', commands: ['cd backend', 'docker-compose ps', 'docker-compose exec db psql -U linkbox_user -d linkbox_dev'] },
    };
  }
  return { status: 'fail', summary: 'The docker-compose database is not answering on localhost: start it', evidence, fix };
}

function localStep(id: RunbookOnlyStepId, run: (ctx: Ctx) => Promise<Verdict>): CheckDefinition<LocalCheckContext, RunbookOnlyStepId> {
  return { id, kinds: ['local'], run };
}

export const localUrlFormatStep = localStep('local.url-format', localUrlFormat);
export const localEnvOverrideStep = localStep('local.env-override', localEnvOverride);
export const localListeningStep = localStep('local.listening', localListening);
export const localComposeDbStep = localStep('local.compose-db', localComposeDb);

export const LOCAL_STEPS = [localUrlFormatStep, localEnvOverrideStep, localListeningStep, localComposeDbStep];
