import type { Metadata } from 'next';
import { EnvironmentActions } from '@/components/environment/environment-actions';
import { describePassword } from '@/components/environment/password-summary';
import { PathPicture } from '@/components/environment/path-picture';
import { CheckSection, groupBySection } from '@/components/status/check-list';
import { checkTitle } from '@/components/status/check-names';
import { AutoRefresh } from '@/components/status/auto-refresh';
import { CheckedAt } from '@/components/status/checked-at';
import { OverallStatusBadge } from '@/components/status/status-badge';
import { getConfig } from '@/lib/config/load';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';
import { getEnvironmentStatus } from '@/lib/status';
import { Breadcrumb } from '@/components/layout/breadcrumb';
import { EnvironmentHistory } from '@/components/history/environment-history';

const REFRESH_SECONDS = 10;
type Params = Promise<{ name: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => n, 'Environment') };
}

export default async function EnvironmentPage({ params }: { params: Params }) {
  const { name } = await params;
  const { caller } = await pageSession(`/environments/${encodeURIComponent(name)}`);
  const env = environmentOrNotFound(name);
  const status = await getEnvironmentStatus(caller, env.name);
  const ttl = getConfig().cacheTtlSeconds;
  const cause = status.rootCause ? status.checks.find((c) => c.id === status.rootCause) : undefined;
  const sections = groupBySection(status.checks);

  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <Breadcrumb trail={[{ label: 'Environments', href: '/' }, { label: status.environment }]} />

      <div className="flex flex-wrap items-center gap-x-3 gap-y-2">
        <h1 className="text-xl font-bold text-slate-900">{status.environment}</h1>
        <span className="rounded bg-slate-200 px-1.5 py-0.5 font-mono text-xs text-slate-700">{status.kind}</span>
        <OverallStatusBadge overall={status.overall} large />
        <span className="text-xs text-slate-600">
          <CheckedAt iso={status.checkedAt} staleAfterSeconds={ttl + 3 * REFRESH_SECONDS} />
        </span>
        <div className="ml-auto">
          <AutoRefresh freshUrl={`/api/v1/environments/${encodeURIComponent(status.environment)}/status?fresh=1`} intervalSeconds={REFRESH_SECONDS} />
        </div>
      </div>

      <PathPicture kind={status.kind} checks={status.checks} rootCause={status.rootCause} />

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

      <div className="mt-3 flex flex-wrap items-center justify-between gap-2">
        <EnvironmentActions environment={status.environment} kind={status.kind} role={caller.role} />
      </div>

      <div className="mt-3 grid gap-3 xl:grid-cols-2">
        {sections.map(({ section, checks }) => (
          <CheckSection
            key={section}
            title={section}
            checks={checks}
            rootCause={status.rootCause}
            aside={section === 'SSM' ? <span>Password: {describePassword(status.password)}</span> : undefined}
          />
        ))}
      </div>
      {sections.length === 0 && <p className="mt-4 text-sm text-slate-600">No checks apply to this environment.</p>}

      <EnvironmentHistory caller={caller} environment={status.environment} />
    </main>
  );
}
