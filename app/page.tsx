import type { Metadata } from 'next';
import Link from 'next/link';
import { Suspense } from 'react';
import { checkTitle } from '@/components/status/check-names';
import { AutoRefresh } from '@/components/status/auto-refresh';
import { CheckedAt } from '@/components/status/checked-at';
import { CheckStatusBadge, OverallStatusBadge, RunningBadge } from '@/components/status/status-badge';
import { pageSession } from '@/lib/pages';
import type { CheckStatus, EnvironmentStatus } from '@/lib/checks/types';
import { getConfig } from '@/lib/config/load';
import { openStatusRun, type StatusRun } from '@/lib/status';

export const metadata: Metadata = { title: 'Environments' };

const REFRESH_SECONDS = 10;
const COUNTED: CheckStatus[] = ['fail', 'error', 'warn', 'skip', 'pass'];

function Counts({ status }: { status: EnvironmentStatus }) {
  return (
    <span className="flex flex-wrap gap-1">
      {COUNTED.map((s) => {
        const n = status.checks.filter((c) => c.status === s).length;
        return n > 0 ? (
          <span key={s} className="inline-flex items-center gap-1">
            <CheckStatusBadge status={s} />
            <span className="font-mono text-xs text-slate-700">×{n}</span>
          </span>
        ) : null;
      })}
    </span>
  );
}

async function EnvironmentRow({ run }: { run: StatusRun }) {
  const status = await run.status;
  const ttl = getConfig().cacheTtlSeconds;
  const cause = status.rootCause ? status.checks.find((c) => c.id === status.rootCause) : undefined;
  return (
    <tr data-environment={status.environment} data-overall={status.overall} className="align-top">
      <th scope="row" className="px-3 py-2 font-semibold">
        <Link href={`/environments/${encodeURIComponent(status.environment)}`} className="text-sky-800 underline-offset-2 hover:underline">
          {status.environment}
        </Link>{' '}
        <span className="ml-1 rounded bg-slate-100 px-1 py-0.5 font-mono text-[11px] font-normal text-slate-600">{status.kind}</span>
      </th>
      <td className="px-3 py-2">
        <OverallStatusBadge overall={status.overall} />
      </td>
      <td className="px-3 py-2">
        {status.rootCause ? (
          <span>
            <span className="font-mono text-xs font-semibold text-red-800">{status.rootCause}</span>{' '}
            <span className="text-slate-800">{checkTitle(status.rootCause)}</span>
            {cause && <span className="block text-xs text-slate-600">{cause.summary}</span>}
          </span>
        ) : (
          <span className="text-slate-500">None</span>
        )}
      </td>
      <td className="px-3 py-2">
        <Counts status={status} />
      </td>
      <td className="px-3 py-2 text-xs text-slate-600">
        <CheckedAt iso={status.checkedAt} staleAfterSeconds={ttl + 3 * REFRESH_SECONDS} />
        {status.stale && (
          <span role="status" className="mt-1 block rounded bg-amber-100 px-1.5 py-0.5 font-semibold text-amber-900">
            Stale: {status.staleReason ?? 'the last refresh failed'}
          </span>
        )}
      </td>
    </tr>
  );
}

/** A row whose status is still being computed: its name and link at once, its state when it arrives. */
function CheckingRow({ name, kind }: { name: string; kind: string }) {
  return (
    <tr data-environment={name} data-overall="checking" className="align-top">
      <th scope="row" className="px-3 py-2 font-semibold">
        <Link href={`/environments/${encodeURIComponent(name)}`} className="text-sky-800 underline-offset-2 hover:underline">
          {name}
        </Link>{' '}
        <span className="ml-1 rounded bg-slate-100 px-1 py-0.5 font-mono text-[11px] font-normal text-slate-600">{kind}</span>
      </th>
      <td className="px-3 py-2">
        <RunningBadge />
      </td>
      <td colSpan={3} className="px-3 py-2 text-xs text-slate-500">
        Checking…
      </td>
    </tr>
  );
}

export default async function EnvironmentsPage() {
  const { caller } = await pageSession('/');
  // Every environment's status starts at once (their AWS reads share calls); each row shows when its own has answered.
  const runs = getConfig().environments.map((env) => openStatusRun(caller, env.name));

  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <div className="mb-3 flex flex-wrap items-center justify-between gap-2">
        <h1 className="text-xl font-bold text-slate-900">Environments</h1>
        <AutoRefresh freshUrl="/api/v1/environments?fresh=1" intervalSeconds={REFRESH_SECONDS} />
      </div>
      <div className="overflow-x-auto rounded-md border border-slate-200 bg-white shadow-sm">
        <table className="w-full min-w-[40rem] text-left text-sm">
          <caption className="sr-only">LinkBox environments and the health of their database path</caption>
          <thead className="bg-slate-100 text-xs uppercase tracking-wide text-slate-600">
            <tr>
              <th scope="col" className="px-3 py-2">Environment</th>
              <th scope="col" className="px-3 py-2">State</th>
              <th scope="col" className="px-3 py-2">Root cause</th>
              <th scope="col" className="px-3 py-2">Checks</th>
              <th scope="col" className="px-3 py-2">Checked</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {runs.map((run) => (
              <Suspense key={run.environment.name} fallback={<CheckingRow name={run.environment.name} kind={run.environment.kind} />}>
                <EnvironmentRow run={run} />
              </Suspense>
            ))}
          </tbody>
        </table>
      </div>
    </main>
  );
}
