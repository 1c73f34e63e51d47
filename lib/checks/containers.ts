import 'server-only';
import { parameterName, type ParameterVersion } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { backendRestartLines, CONTAINER_NAME, type ContainerReport } from '@/lib/aws/run-command';
import type { AwsCheckContext, CheckContext, LocalCheckContext } from './context';
import { aws, selectorText, sendCommand, sh } from './fixes';
import { healthUrl, probeHttp, type HttpProbe } from '@/lib/probes';
import { PROBE_SHARE } from './context';
import { couldNotCheck, type CheckDefinition } from './run';
import type { Evidence, Verdict } from './types';

// The backends: each instance running with its linkbox-backend container up (docker inspect via
// Run Command, cached longer because it is slow), answering /health, and holding the current
// password (a container keeps the DATABASE_URL it was started with): one started before the last
// change is stale only if that change changed the value, which the parameter's history tells.

export const containersRunningCheck: CheckDefinition<AwsCheckContext> = {
  id: 'containers.running',
  kinds: ['aws'],
  async run(ctx) {
    const instances = await ctx.backendInstances();
    if (instances.length === 0) {
      return {
        status: 'fail',
        summary: `No backend instance matches ${selectorText(ctx.env.backendInstances)}`,
        evidence: {},
        fix: { summary: 'Find the backend instances and fix the selector in the environments file.', commands: [describeInstancesCommand(ctx.env)] },
      };
    }
    const { reports, fetchedAt } = await ctx.containers();
    const evidence: Evidence = { containerStateAsOf: new Date(fetchedAt).toISOString() };
    const stopped: string[] = [];
    const down: string[] = [];
    const unknown: string[] = [];
    for (const i of instances) {
      const label = i.name ? `${i.id} (${i.name})` : i.id;
      if (i.state !== 'running') {
        stopped.push(i.id);
        evidence[label] = `instance ${i.state ?? 'state unknown'}`;
        continue;
      }
      const report = reports[i.id];
      if (!report || !report.ok) {
        unknown.push(i.id);
        evidence[label] = `instance running; container state unknown: ${report && !report.ok ? report.reason : 'no report'}`;
        continue;
      }
      const c = report.container;
      evidence[label] = describeContainer(report);
      if (c.status !== 'running') down.push(i.id);
    }
    const problems = [
      ...stopped.map((id) => `${id} is not running`),
      ...down.map((id) => `${id}: linkbox-backend is ${(reports[id] as { container: { status: string } }).container.status}`),
    ];
    if (problems.length > 0) {
      const commands: string[] = [];
      if (stopped.length) commands.push(aws(ctx.env, 'ec2 start-instances', '--instance-ids', ...stopped));
      if (down.length) commands.push(sendCommand(ctx.env, down, backendRestartLines(ctx.env)));
      return {
        status: 'fail',
        summary: problems.join('; '),
        evidence,
        fix: { summary: 'Start the stopped instances, and restart the backend container with the deploy\'s scripts (the console\'s rolling restart does the same, one instance at a time).', commands },
      };
    }
    if (unknown.length > 0) return { status: 'error', summary: `Could not check the container on ${unknown.join(', ')}`, evidence };
    return { status: 'pass', summary: `${instances.length} instance${instances.length === 1 ? '' : 's'} running, linkbox-backend up on each`, evidence };
  },
};

export const containersHealthCheck: CheckDefinition<CheckContext> = {
  id: 'containers.health',
  kinds: ['aws', 'local'],
  run(ctx) {
    return ctx.kind === 'aws' ? awsHealth(ctx) : localHealth(ctx);
  },
};

async function awsHealth(ctx: AwsCheckContext): Promise<Verdict> {
  const instances = (await ctx.backendInstances()).filter((i) => i.state === 'running');
  const h = ctx.env.health;
  const targets = instances.map((i) => ({ i, url: healthUrl(h, i) }));
  const timeoutMs = Math.floor(ctx.budgetMs * PROBE_SHARE);
  const probes = await Promise.all(targets.map(async (t) => ({ ...t, probe: t.url ? await probeHttp(t.url, timeoutMs) : null })));
  const evidence: Evidence = {};
  const failing: string[] = [];
  const unreachable: string[] = [];
  for (const { i, url, probe } of probes) {
    const label = i.name ? `${i.id} (${i.name})` : i.id;
    if (!url || !probe) {
      unreachable.push(i.id);
      evidence[label] = 'no private IP and no health URL configured';
      continue;
    }
    evidence[label] = `${url}: ${healthText(probe)}`;
    if (probe.statusCode === 200) continue;
    // The console cannot route there at all: that says nothing about the backend.
    if (probe.outcome === 'unreachable' || probe.outcome === 'dns') unreachable.push(i.id);
    else failing.push(`${i.id} ${probe.statusCode ? `answered ${probe.statusCode}` : probe.outcome === 'timeout' ? 'did not answer in time' : probe.outcome === 'refused' ? 'refused the connection' : probe.detail}`);
  }
  if (failing.length > 0) {
    const ids = probes.filter((p) => p.probe && p.probe.statusCode !== 200 && p.probe.outcome !== 'unreachable' && p.probe.outcome !== 'dns').map((p) => p.i.id);
    return {
      status: 'fail',
      summary: `${h.path} failing: ${failing.join('; ')}`,
      evidence,
      fix: {
        summary: 'Look at the container\'s log for the reason (often the database login), fix that, then restart the backend with the deploy\'s scripts.',
        commands: [sendCommand(ctx.env, ids, [`docker logs --tail 50 ${CONTAINER_NAME}`]), sendCommand(ctx.env, ids, backendRestartLines(ctx.env))],
      },
    };
  }
  if (unreachable.length > 0) {
    return { status: 'error', summary: `Could not reach ${h.path} on ${unreachable.join(', ')} from the console; set health.urls in the environments file`, evidence };
  }
  return { status: 'pass', summary: `${instances.length} backend${instances.length === 1 ? '' : 's'} answer ${h.path} with 200`, evidence };
}

async function localHealth(ctx: LocalCheckContext): Promise<Verdict> {
  const url = new URL(ctx.env.healthPath, ctx.env.backendUrl).toString();
  const probe = await probeHttp(url, Math.floor(ctx.budgetMs * PROBE_SHARE));
  const evidence: Evidence = { url, result: healthText(probe), latencyMs: probe.latencyMs };
  if (probe.statusCode === 200) return { status: 'pass', summary: `The local backend answers ${ctx.env.healthPath} with 200 in ${probe.latencyMs} ms`, evidence };
  const summary =
    probe.outcome === 'refused'
      ? `Nothing is listening on ${ctx.env.backendUrl}: the local backend is not running`
      : probe.statusCode
        ? `The local backend answers ${ctx.env.healthPath} with ${probe.statusCode}`
        : `The local backend did not answer ${ctx.env.healthPath}: ${probe.detail}`;
  return {
    status: 'fail',
    summary,
    evidence,
    fix: { summary: 'Start the backend (and its database), then check the health endpoint.', commands: ['cd backend && docker-compose up -d db', 'cd backend && uv run uvicorn app.main:app --reload', `curl ${url}`] },
  };
}

export const freshCredentialsCheck: CheckDefinition<AwsCheckContext> = {
  id: 'containers.fresh-credentials',
  kinds: ['aws'],
  async run(ctx) {
    const [params, instances, { reports }] = await Promise.all([ctx.parameters(), ctx.backendInstances(), ctx.containers()]);
    const password = params.parameters['db-password'];
    const changedAt = password?.lastModifiedDate ?? null;
    const evidence: Evidence = { passwordChanged: changedAt, passwordVersion: password?.version ?? null };
    if (!changedAt || typeof password?.version !== 'number') {
      return { status: 'error', summary: `Could not check: SSM did not say when ${parameterName(ctx.env, 'db-password')} last changed`, evidence };
    }
    const current: ParameterVersion = { version: password.version, lastModifiedDate: changedAt };
    const maybeStale: Array<{ id: string; startedAt: string }> = [];
    const unknown: string[] = [];
    for (const i of instances.filter((x) => x.state === 'running')) {
      const r = reports[i.id];
      const startedAt = r?.ok ? r.container.startedAt : null;
      evidence[`${i.id}.startedAt`] = startedAt;
      if (!r?.ok || !startedAt) unknown.push(i.id);
      else if (Date.parse(startedAt) < Date.parse(changedAt)) maybeStale.push({ id: i.id, startedAt });
    }
    // Only the times say a container may be stale: whether it is, the values tell.
    const judged = maybeStale.length > 0 ? await byValue(ctx, current, maybeStale) : { stale: [], same: [], unknown: [] };
    if ('error' in judged) return { ...judged.error, evidence: { ...evidence, ...judged.error.evidence } };
    for (const j of [...judged.stale, ...judged.same, ...judged.unknown]) evidence[`${j.id}.password`] = j.text;
    if (judged.stale.length > 0) {
      const stale = judged.stale.map((j) => j.id);
      return {
        status: 'fail',
        summary: `${stale.join(', ')} started with another password than the current one (version ${current.version}, ${changedAt}): still using the old password`,
        evidence,
        fix: {
          summary: 'Restart those backends with the deploy\'s scripts so start_application.sh reads the new password (the console\'s rolling restart does it one instance at a time; `docker restart` would keep the old DATABASE_URL).',
          commands: [sendCommand(ctx.env, stale, backendRestartLines(ctx.env))],
        },
      };
    }
    const undecided = [...unknown, ...judged.unknown.map((j) => j.id)];
    if (undecided.length > 0) return { status: 'error', summary: `Could not check which password the container holds on ${undecided.join(', ')}`, evidence };
    if (judged.same.length > 0) {
      return {
        status: 'pass',
        summary: `Every container holds the current password: ${judged.same.map((j) => j.id).join(', ')} started before version ${current.version} was written, but with the same value`,
        evidence,
      };
    }
    return { status: 'pass', summary: `Every container started after the last password change (${changedAt})`, evidence };
  },
};

type Judged = { id: string; text: string };

/**
 * For each container the times call stale: the version of db-password in effect when it started,
 * and whether that version's value is the current one, by fingerprint (remembered per version, so
 * a steady state decrypts nothing). A version SSM no longer keeps cannot be compared: stale.
 */
async function byValue(
  ctx: AwsCheckContext,
  current: ParameterVersion,
  containers: Array<{ id: string; startedAt: string }>,
): Promise<{ stale: Judged[]; same: Judged[]; unknown: Judged[] } | { error: Verdict }> {
  try {
    const history = await ctx.passwordVersions(current);
    const atStart = containers.map((c) => ({ ...c, version: [...history].reverse().find((v) => v.lastModifiedDate && Date.parse(v.lastModifiedDate) <= Date.parse(c.startedAt)) ?? null }));
    const needed = [current, ...atStart.flatMap((c) => (c.version ? [c.version] : []))];
    const fingerprints = await ctx.passwordFingerprints([...new Map(needed.map((v) => [v.version, v])).values()]);
    const now = fingerprints.get(current.version);
    const out = { stale: [] as Judged[], same: [] as Judged[], unknown: [] as Judged[] };
    for (const c of atStart) {
      if (!c.version) {
        out.stale.push({ id: c.id, text: `started before the oldest version SSM keeps, so before version ${current.version}` });
        continue;
      }
      const then = fingerprints.get(c.version.version);
      if (now === undefined || then === undefined) out.unknown.push({ id: c.id, text: `version ${c.version.version} could not be compared with version ${current.version}` });
      else if (then === now) out.same.push({ id: c.id, text: `started with version ${c.version.version}; version ${current.version} holds the same value` });
      else out.stale.push({ id: c.id, text: `started with version ${c.version.version}; version ${current.version} holds another value` });
    }
    return out;
  } catch (err) {
    return { error: { ...couldNotCheck(err, 'comparing past versions of the password') } };
  }
}

function describeContainer(report: Extract<ContainerReport, { ok: true }>): string {
  const c = report.container;
  if (c.status === 'missing') return 'instance running; no linkbox-backend container';
  const parts = [`container ${c.status}`];
  if (c.status === 'running' && c.startedAt) parts.push(`since ${c.startedAt}`);
  if (c.status !== 'running' && c.exitCode !== null) parts.push(`exit code ${c.exitCode}`);
  if (c.restartCount) parts.push(`${c.restartCount} restarts`);
  if (c.error) parts.push(`error: ${c.error}`);
  return `instance running; ${parts.join(', ')}`;
}

function healthText(p: HttpProbe): string {
  if (p.statusCode === null) return p.detail;
  return p.bodyExcerpt ? `${p.detail}: ${p.bodyExcerpt}` : p.detail;
}

function describeInstancesCommand(env: AwsEnvironmentConfig): string {
  const sel = env.backendInstances;
  const query = "--query 'Reservations[].Instances[].[InstanceId,State.Name,PrivateIpAddress]' --output table";
  if ('ids' in sel) return aws(env, 'ec2 describe-instances', '--instance-ids', ...sel.ids, query);
  return aws(env, 'ec2 describe-instances', '--filters', ...Object.entries(sel.tags).map(([k, v]) => sh(`Name=tag:${k},Values=${v}`)), query);
}

export const CONTAINER_CHECKS = [containersRunningCheck, containersHealthCheck, freshCredentialsCheck];
