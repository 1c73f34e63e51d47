import 'server-only';
import { CONTAINER_NAME } from '@/lib/aws/run-command';
import type { AwsCheckContext } from '@/lib/checks/context';
import { sendCommand } from '@/lib/checks/fixes';
import type { CheckDefinition } from '@/lib/checks/run';
import type { CheckId, CheckResult, Evidence } from '@/lib/checks/types';
import type { RunbookOnlyStepId } from '../types';

// When the console's own login with the stored credentials and the backends' disagree — one logs
// in, the other fails — the symptom alone ("password authentication failed" next to a successful
// login) resolves nothing. The two paths differ in three ways the status checks look at: the
// credentials as parsed (separate fields vs the backend's DATABASE_URL), the source network (the
// console's tunnel or group vs each backend's groups and subnet) and TLS; and in time (a container
// holds the password it started with). This step reads those checks' results, costs no call, and
// names what differs; the check that explains it, earlier in dependency order, is the root cause.

/** What a backend's /health failure says about why its login failed, from the error it printed. */
type FailureKind = 'credentials' | 'network' | 'tls' | 'database' | 'other';

/** What the failing backends do, for one backend and for several. */
const KIND_WORDS: Record<FailureKind, [string, string]> = {
  credentials: ['is refused the login', 'are refused the login'],
  network: ['cannot reach the database', 'cannot reach the database'],
  tls: ['fails the TLS handshake', 'fail the TLS handshake'],
  database: ['is told the database does not exist', 'are told the database does not exist'],
  other: ['fails its database check', 'fail their database check'],
};

/** The checks that explain a difference between the two paths, in the order they are weighed. */
const EXPLAINERS: ReadonlyArray<{ id: CheckId; aspect: string; kinds: FailureKind[] }> = [
  { id: 'db.backend-credentials', aspect: 'credentials as parsed', kinds: ['credentials', 'database', 'network', 'other'] },
  { id: 'containers.fresh-credentials', aspect: 'password version', kinds: ['credentials', 'other'] },
  { id: 'net.instance-security-groups', aspect: 'source network (security groups)', kinds: ['network', 'other'] },
  { id: 'net.network-acls', aspect: 'source network (network ACLs)', kinds: ['network', 'other'] },
];

export const loginPathStep: CheckDefinition<AwsCheckContext, RunbookOnlyStepId> = {
  id: 'backend.login-path',
  kinds: ['aws'],
  reads: ['db.login', 'containers.health', ...EXPLAINERS.map((e) => e.id)],
  async run(ctx, _signal, read) {
    const login = read.get('db.login');
    const health = read.get('containers.health');
    if (!login || !health) return { status: 'error', summary: 'Could not check: the status gave no db.login or containers.health result', evidence: {} };
    const compared = (r: CheckResult<string>) => r.status === 'pass' || r.status === 'fail';
    if (!compared(login) || !compared(health)) {
      const which = [login, health].filter((r) => !compared(r)).map((r) => `${r.id} is ${r.status}`);
      return { status: 'skip', summary: `Nothing to compare: ${which.join(', ')}`, evidence: {} };
    }
    const backends = backendsOf(health);
    const failing = backends.filter((b) => !b.ok);
    const credentials = read.get('db.backend-credentials');
    const evidence: Evidence = {
      console: `${login.status === 'pass' ? 'logs in' : 'fails'} with the four SSM values as separate fields, ${ctx.env.reachVia ? `through the tunnel at ${ctx.env.reachVia.host}:${ctx.env.reachVia.port}` : 'from its own network place'}; TLS: ${String(login.evidence.tls ?? 'used when the server offers it')}`,
      backends: backends.map((b) => `${b.id} ${b.ok ? 'logs in' : `fails (${b.kind})`}`).join(', ') || 'none running',
      'backends\' TLS': `sslmode ${String(credentials?.evidence.backendSslmode ?? 'unknown')}`,
    };
    for (const e of EXPLAINERS) {
      const r = read.get(e.id);
      evidence[e.aspect] = r ? `${r.status}: ${r.summary}` : 'not checked';
    }

    if (login.status === 'pass' && failing.length === 0) return { status: 'pass', summary: 'The console and every running backend log in', evidence };
    if (login.status === 'fail' && failing.length === backends.length) {
      return { status: 'pass', summary: 'No contradiction: the console\'s login fails as the backends\' do (see db.login)', evidence };
    }

    const kinds = new Set<FailureKind>(failing.map((b) => b.kind));
    const explained = EXPLAINERS.filter((e) => read.get(e.id)?.status === 'fail' && (kinds.size === 0 || e.kinds.some((k) => kinds.has(k))));
    const because = explained.map((e) => `${e.aspect} — ${read.get(e.id)!.summary} (${e.id})`);

    if (login.status === 'pass') {
      const who = failing.map((b) => b.id).join(', ');
      const symptom = `The console logs in with the SSM credentials, but ${who} ${[...kinds].map((k) => KIND_WORDS[k][failing.length === 1 ? 0 : 1]).join(' or ')}`;
      if (because.length > 0) {
        return { status: 'fail', summary: `${symptom}. What differs: ${because.join('; ')}`, evidence, fix: { summary: `Fix ${explained[0]!.id}, the root cause; the backends then log in as the console does.` } };
      }
      return {
        status: 'fail',
        summary: `${symptom}, although the credentials as they parse them, their password version and their network path all match the console's: the difference is outside what the console can see (the container's own configuration, TLS settings, DNS inside the VPC)`,
        evidence,
        fix: { summary: 'Read the container\'s log on those instances.', commands: [sendCommand(ctx.env, failing.map((b) => b.id), [`docker logs --tail 50 ${CONTAINER_NAME}`])] },
      };
    }
    // The console fails where backends succeed: they still hold values SSM no longer does.
    const fine = backends.filter((b) => b.ok).map((b) => b.id);
    const stale = read.get('containers.fresh-credentials');
    const held =
      stale?.status === 'fail'
        ? `they started with the previous password, which the database still accepts: ${stale.summary}`
        : 'they started with values SSM no longer holds (a parameter changed after they started, and the database did not follow)';
    return {
      status: 'fail',
      summary: `The console's login with the SSM credentials fails (db.login), but ${fine.join(', ')} ${fine.length === 1 ? 'logs' : 'log'} in: ${held}`,
      evidence,
      fix: { summary: 'Fix what db.login reports (the stored value is the wrong one); restarting those backends now would break them too.' },
    };
  },
};

interface BackendLogin {
  id: string;
  ok: boolean;
  kind: FailureKind;
}

/** Each instance's /health outcome from containers.health's evidence ("<url>: HTTP 503 …: <body>"). */
function backendsOf(health: CheckResult<string>): BackendLogin[] {
  return Object.entries(health.evidence).flatMap(([key, value]) => {
    const id = /^(i-[0-9a-z]+)\b/.exec(key)?.[1];
    // Instances the console could not reach (no URL) are containers.health's "could not check", not a login.
    if (!id || typeof value !== 'string' || !/^https?:/.test(value)) return [];
    const ok = /: HTTP 200\b/.test(value);
    return [{ id, ok, kind: ok ? 'other' : failureKind(value) }];
  });
}

function failureKind(text: string): FailureKind {
  if (/authentication failed|no password supplied|role "[^"]*" does not exist/i.test(text)) return 'credentials';
  if (/database "[^"]*" does not exist/i.test(text)) return 'database';
  if (/SSL|TLS|certificate/i.test(text)) return 'tls';
  if (/timeout|timed out|could not connect|connection refused|no route|no answer/i.test(text)) return 'network';
  return 'other';
}
