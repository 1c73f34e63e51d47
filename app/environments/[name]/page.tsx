import type { Metadata } from 'next';
import { Suspense } from 'react';
import { EnvironmentActions } from '@/components/environment/environment-actions';
import { describePassword } from '@/components/environment/password-summary';
import { PathPicture } from '@/components/environment/path-picture';
import { CheckSection, groupBySection, RunningCheckSection } from '@/components/status/check-list';
import { checkTitle, type Section } from '@/components/status/check-names';
import { AutoRefresh } from '@/components/status/auto-refresh';
import { CheckedAt } from '@/components/status/checked-at';
import { OverallStatusBadge, RunningBadge } from '@/components/status/status-badge';
import type { CheckId } from '@/lib/checks/types';
import { getConfig } from '@/lib/config/load';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';
import { openStatusRun, rootCauseAmong, type StatusRun } from '@/lib/status';
import { Breadcrumb } from '@/components/layout/breadcrumb';
import { EnvironmentHistory } from '@/components/history/environment-history';

// The environment's status, streamed: each panel shows as soon as its own checks have answered
// (SSM, RDS and the network in about one AWS round trip; the containers after their Run Command),
// and what needs every check (the overall badge, the path, the root cause banner) once all have.

const REFRESH_SECONDS = 10;
type Params = Promise<{ name: string }>;
type Search = Promise<Record<string, string | string[] | undefined>>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => n, 'Environment') };
}

async function Overall({ run }: { run: StatusRun }) {
  const status = await run.status;
  const ttl = getConfig().cacheTtlSeconds;
  return (
    <>
      <OverallStatusBadge overall={status.overall} large />
      <span className="text-xs text-slate-600" data-testid="status-complete">
        <CheckedAt iso={status.checkedAt} staleAfterSeconds={ttl + 3 * REFRESH_SECONDS} />
      </span>
    </>
  );
}

async function Path({ run }: { run: StatusRun }) {
  const status = await run.status;
  return <PathPicture kind={status.kind} checks={status.checks} rootCause={status.rootCause} backends={status.backends} />;
}

async function Notices({ run }: { run: StatusRun }) {
  const status = await run.status;
  const cause = status.rootCause ? status.checks.find((c) => c.id === status.rootCause) : undefined;
  return (
    <>
      {status.stale && (
        <p role="status" className="mt-2 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
          <strong>Stale data</strong> from {new Date(status.checkedAt).toISOString().replace('T', ' ').slice(0, 19)} UTC:{' '}
          {status.staleReason ?? 'the last refresh failed'}. The console keeps trying.
        </p>
      )}
      {status.rootCause && (
        <div role="alert" aria-label="Root cause" className="mt-3 rounded border-l-4 border-red-600 bg-red-50 px-3 py-2">
          <p className="text-sm font-semibold text-red-900">
            Root cause: {checkTitle(status.rootCause)} <span className="font-mono text-xs font-normal">({status.rootCause})</span>
          </p>
          {cause && <p className="text-sm text-red-900">{cause.summary}</p>}
          <a href={`#check-${status.rootCause}`} className="text-xs text-red-800 underline">
            Evidence and fix below
          </a>
        </div>
      )}
    </>
  );
}

async function PasswordAside({ run }: { run: StatusRun }) {
  return <span>Password: {describePassword((await run.status).password)}</span>;
}

async function Panel({ run, section, ids }: { run: StatusRun; section: Section; ids: CheckId[] }) {
  let checks = await Promise.all(ids.map((id) => run.results.get(id)!));
  let rootCause = await rootCauseAmong(run, ids);
  // Nothing could be checked: the status may serve its last good answer instead (marked stale above).
  if (checks.every((c) => c.status === 'error')) {
    const status = await run.status;
    if (status.stale) {
      checks = status.checks.filter((c) => ids.includes(c.id));
      rootCause = status.rootCause;
    }
  }
  const aside =
    section === 'SSM' && run.environment.kind === 'aws' ? (
      <Suspense fallback={<span>Password: …</span>}>
        <PasswordAside run={run} />
      </Suspense>
    ) : undefined;
  return <CheckSection title={section} checks={checks} rootCause={rootCause} aside={aside} />;
}

export default async function EnvironmentPage({ params, searchParams }: { params: Params; searchParams: Search }) {
  const { name } = await params;
  const { caller } = await pageSession(`/environments/${encodeURIComponent(name)}`);
  const env = environmentOrNotFound(name);
  // `?fresh=1` as on the JSON API: past the cache, within the freshReads budget.
  const run = openStatusRun(caller, env.name, { fresh: (await searchParams).fresh === '1' });
  const panels = groupBySection([...run.results.keys()] as CheckId[]);

  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <Breadcrumb trail={[{ label: 'Environments', href: '/' }, { label: env.name }]} />

      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h1 className="text-xl font-bold text-slate-900">{env.name}</h1>
        <span className="rounded bg-slate-200 px-1.5 py-0.5 font-mono text-xs text-slate-700">{env.kind}</span>
        <Suspense fallback={<RunningBadge />}>
          <Overall run={run} />
        </Suspense>
        <div className="ml-auto">
          <AutoRefresh freshUrl={`/api/v1/environments/${encodeURIComponent(env.name)}/status?fresh=1`} intervalSeconds={REFRESH_SECONDS} />
        </div>
      </div>

      <Suspense
        fallback={
          <p role="status" className="mt-3 rounded-md border border-slate-200 bg-white p-3 text-xs text-slate-600">
            The database path is drawn once every check has answered; the panels below show as theirs do.
          </p>
        }
      >
        <Path run={run} />
      </Suspense>
      <Suspense fallback={null}>
        <Notices run={run} />
      </Suspense>

      <div className="mt-3 flex flex-wrap items-center justify-between gap-2">
        <EnvironmentActions environment={env.name} kind={env.kind} role={caller.role} />
      </div>

      <div className="mt-3 grid gap-3 xl:grid-cols-2">
        {panels.map(({ section, ids }) => (
          <Suspense key={section} fallback={<RunningCheckSection title={section} ids={ids} />}>
            <Panel run={run} section={section} ids={ids} />
          </Suspense>
        ))}
      </div>
      {panels.length === 0 && <p className="mt-4 text-sm text-slate-600">No checks apply to this environment.</p>}

      <EnvironmentHistory caller={caller} environment={env.name} />
    </main>
  );
}
