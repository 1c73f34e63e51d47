import type { Metadata } from 'next';
import Link from 'next/link';
import { AuditTable } from '@/components/audit/audit-table';
import { listAudit } from '@/lib/audit';
import { pageSession } from '@/lib/pages';
import { getConfig } from '@/lib/config/load';

export const metadata: Metadata = { title: 'Audit log' };

const PAGE_SIZES = [50, 200, 1000] as const;

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export default async function AuditPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { caller } = await pageSession('/audit');
  const names = getConfig().environments.map((e) => e.name);
  // Only configured names filter; anything else shows everything rather than echoing the query.
  const wanted = one(params.environment);
  const environment = wanted && names.includes(wanted) ? wanted : undefined;
  const requestedLimit = Number(one(params.limit));
  const limit = PAGE_SIZES.find((n) => n === requestedLimit) ?? PAGE_SIZES[0];
  const entries = await listAudit(caller, { limit, environment });

  const href = (env: string | undefined, n: number) => {
    const q = new URLSearchParams();
    if (env) q.set('environment', env);
    if (n !== PAGE_SIZES[0]) q.set('limit', String(n));
    const s = q.toString();
    return s ? `/audit?${s}` : '/audit';
  };

  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <h1 className="text-xl font-bold text-slate-900">Audit log</h1>
      <p className="mt-1 text-sm text-slate-700">
        Every rotation, rollback and restart, including refusals (a missing role, a wrong confirmation, a lock held by someone
        else), newest first. No entry holds a password.
      </p>
      <nav aria-label="Filter by environment" className="mt-3 flex flex-wrap items-center gap-2 text-xs">
        <span className="text-slate-600">Environment:</span>
        {[undefined, ...names].map((n) => (
          <Link
            key={n ?? '(all)'}
            href={href(n, limit)}
            aria-current={n === environment ? 'page' : undefined}
            className={`rounded border px-2 py-0.5 ${n === environment ? 'border-slate-800 bg-slate-800 text-white' : 'border-slate-300 bg-white text-slate-800 hover:bg-slate-50'}`}
          >
            {n ?? 'All'}
          </Link>
        ))}
        <span className="ml-4 text-slate-600">Show:</span>
        {PAGE_SIZES.map((n) => (
          <Link
            key={n}
            href={href(environment, n)}
            aria-current={n === limit ? 'page' : undefined}
            className={`rounded border px-2 py-0.5 ${n === limit ? 'border-slate-800 bg-slate-800 text-white' : 'border-slate-300 bg-white text-slate-800 hover:bg-slate-50'}`}
          >
            {n}
          </Link>
        ))}
      </nav>
      <div className="mt-3">
        <AuditTable entries={entries} />
      </div>
      {entries.length === limit && <p className="mt-2 text-xs text-slate-600">Showing the newest {limit}; older entries are kept.</p>}
    </main>
  );
}
