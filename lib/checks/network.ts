import 'server-only';
import type { AwsCheckContext } from './context';
import { aws, sh } from './fixes';
import { probePostgres, type TcpProbe } from '@/lib/probes';
import { PROBE_SHARE } from './context';
import type { CheckDefinition } from './run';
import type { Evidence } from './types';

// Can the console reach PostgreSQL at all: a TCP connect and the protocol's SSLRequest, so a
// firewall that drops packets (or accepts and then drops) reads as "timed out", distinct from
// "refused" (nothing listening) and from a name that does not resolve.

export const tcpCheck: CheckDefinition<AwsCheckContext> = {
  id: 'net.tcp',
  kinds: ['aws'],
  async run(ctx) {
    const env = ctx.env;
    let host: string;
    let port: number;
    let via: string;
    if (env.reachVia) {
      ({ host, port } = env.reachVia);
      via = 'reachVia (the tunnel to the VPC)';
    } else {
      // Where db.login will go: the endpoint RDS reports, never the SSM String (rds.endpoint-match compares them).
      const db = await ctx.dbInstance();
      if (!db?.endpointAddress) return { status: 'error', summary: `Could not check: RDS reports no endpoint for ${env.rdsInstanceId}`, evidence: {} };
      host = db.endpointAddress;
      port = db?.endpointPort ?? env.dbPort;
      via = 'the RDS endpoint';
    }
    const probe = await probePostgres(host, port, Math.floor(ctx.budgetMs * PROBE_SHARE));
    const evidence: Evidence = { target: `${host}:${port}`, via, outcome: probe.outcome, connectMs: probe.connectMs, latencyMs: probe.latencyMs, detail: probe.detail };
    if (probe.sslAnswer) evidence.tls = probe.sslAnswer === 'S' ? 'offered' : 'not offered';
    if (probe.outcome === 'answered') return { status: 'pass', summary: `PostgreSQL answers on ${host}:${port} in ${probe.latencyMs} ms`, evidence };
    return { status: 'fail', summary: failureSummary(probe, host, port), evidence, fix: await fixFor(ctx, probe, host, port) };
  },
};

function failureSummary(probe: TcpProbe, host: string, port: number): string {
  switch (probe.outcome) {
    case 'refused':
      return `Connection refused on ${host}:${port}: nothing is listening (instance stopped, wrong port, or the tunnel is down)`;
    case 'connect-timeout':
      return `Timed out connecting to ${host}:${port}: packets are dropped (a security group or network ACL)`;
    case 'no-answer':
      return `Timed out on ${host}:${port}: the connection opened but PostgreSQL never answered (traffic is dropped on the way)`;
    case 'dns':
      return `${host} does not resolve: ${probe.detail}`;
    case 'unreachable':
      return `No route to ${host}:${port}: ${probe.detail}`;
    case 'closed':
      return `${host}:${port} closed the connection without answering like PostgreSQL`;
    default:
      return `Could not connect to ${host}:${port}: ${probe.detail}`;
  }
}

async function fixFor(ctx: AwsCheckContext, probe: TcpProbe, host: string, port: number) {
  const env = ctx.env;
  if (probe.outcome === 'connect-timeout' || probe.outcome === 'no-answer') {
    const groups = await ctx.securityGroups().catch(() => null);
    const dbGroup = groups?.db[0]?.id ?? '<db-security-group-id>';
    const backendGroup = groups?.backend[0]?.id ?? '<backend-security-group-id>';
    return {
      summary: `Check that the DB security group admits the backends on ${env.dbPort} (sg.backend-ingress), and add the rule if it is missing.`,
      commands: [
        aws(env, 'ec2 describe-security-groups', '--group-ids', dbGroup),
        aws(env, 'ec2 authorize-security-group-ingress', '--group-id', dbGroup, '--protocol tcp --port', String(env.dbPort), '--source-group', backendGroup),
      ],
    };
  }
  if (env.reachVia && (probe.outcome === 'refused' || probe.outcome === 'closed')) {
    const [instances, db] = await Promise.all([ctx.backendInstances().catch(() => []), ctx.dbInstance().catch(() => null)]);
    const target = instances.find((i) => i.state === 'running')?.id ?? '<backend-instance-id>';
    const params = JSON.stringify({ host: [db?.endpointAddress ?? '<db-endpoint>'], portNumber: [String(env.dbPort)], localPortNumber: [String(port)] });
    return {
      summary: `Nothing listens on ${host}:${port}, where the console expects the tunnel to the database. Start it (or check that RDS is available).`,
      commands: [aws(env, 'ssm start-session', '--target', target, '--document-name AWS-StartPortForwardingSessionToRemoteHost --parameters', sh(params))],
    };
  }
  return {
    summary: 'Check the instance status and endpoint RDS reports.',
    commands: [aws(env, 'rds describe-db-instances', '--db-instance-identifier', sh(env.rdsInstanceId), "--query 'DBInstances[0].[DBInstanceStatus,Endpoint.Address,Endpoint.Port]'")],
  };
}

export const NETWORK_CHECKS = [tcpCheck];
