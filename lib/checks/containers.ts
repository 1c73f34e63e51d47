import 'server-only';
import { parameterName } from '@/lib/aws/parameters';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { backendRestartLines, CONTAINER_NAME, type ContainerReport } from '@/lib/aws/run-command';
import type { AwsCheckContext, CheckContext, LocalCheckContext } from './context';
import { aws, selectorText, sendCommand, sh } from './fixes';
import { healthUrl, probeHttp, type HttpProbe } from '@/lib/probes';
import { PROBE_SHARE } from './context';
import type { CheckDefinition } from './run';
import type { Evidence, Verdict } from './types';

// The backends: each instance running with its linkbox-backend container up (docker inspect via
// Run Command, cached longer because it is slow), answering /health, and started after the last
// password change (a container keeps the DATABASE_URL it was started with).

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
    if (!changedAt) return { status: 'error', summary: `Could not check: SSM did not say when ${parameterName(ctx.env, 'db-password')} last changed`, evidence };
    const changed = Date.parse(changedAt);
    const stale: string[] = [];
    const unknown: string[] = [];
    for (const i of instances.filter((x) => x.state === 'running')) {
      const r = reports[i.id];
      const startedAt = r?.ok ? r.container.startedAt : null;
      evidence[`${i.id}.startedAt`] = startedAt;
      if (!r?.ok || !startedAt) {
        unknown.push(i.id);
        continue;
      }
      if (Date.parse(startedAt) < changed) stale.push(i.id);
    }
    if (stale.length > 0) {
      return {
        status: 'fail',
        summary: `${stale.join(', ')} started before the password changed (${changedAt}): still using the old password`,
        evidence,
        fix: {
          summary: 'Restart those backends with the deploy\'s scripts so start_application.sh reads the new password (the console\'s rolling restart does it one instance at a time; `docker restart` would keep the old DATABASE_URL).',
          commands: [sendCommand(ctx.env, stale, backendRestartLines(ctx.env))],
        },
      };
    }
    if (unknown.length > 0) return { status: 'error', summary: `Could not check when the container started on ${unknown.join(', ')}`, evidence };
    return { status: 'pass', summary: `Every container started after the last password change (${changedAt})`, evidence };
  },
};

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
