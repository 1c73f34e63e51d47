import type { AuditEntry } from '@/lib/audit';
import { dateTime, milliseconds } from '@/components/rotation/time';

// The audit log as a table: who, with which role, did what to which environment, how it ended, and
// how long each step took. Entries hold no secret by construction (the writer is given none).

const OUTCOME: Record<AuditEntry['outcome'], { label: string; className: string }> = {
  success: { label: 'Success', className: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30' },
  failure: { label: 'Failure', className: 'bg-red-50 text-red-800 ring-red-600/40' },
  refused: { label: 'Refused', className: 'bg-amber-50 text-amber-900 ring-amber-600/40' },
};

function StepTimings({ timings }: { timings: Record<string, number> }) {
  const entries = Object.entries(timings);
  if (entries.length === 0) return null;
  return (
    <details className="mt-1">
      <summary className="cursor-pointer text-xs text-slate-600">Step timings</summary>
      <dl className="mt-1 grid grid-cols-[max-content_1fr] gap-x-3 font-mono text-[11px] text-slate-700">
        {entries.map(([step, ms]) => (
          <div key={step} className="contents">
            <dt>{step}</dt>
            <dd>{milliseconds(ms)}</dd>
          </div>
        ))}
      </dl>
    </details>
  );
}

export function AuditTable({ entries }: { entries: AuditEntry[] }) {
  if (entries.length === 0) return <p className="text-sm text-slate-600">No entries yet.</p>;
  return (
    <div className="overflow-x-auto rounded border border-slate-200 bg-white">
      <table className="min-w-full text-left text-sm">
        <caption className="sr-only">Audit log, newest first</caption>
        <thead className="bg-slate-100 text-xs uppercase tracking-wide text-slate-600">
          <tr>
            <th scope="col" className="px-2 py-1.5">When</th>
            <th scope="col" className="px-2 py-1.5">Who</th>
            <th scope="col" className="px-2 py-1.5">Role</th>
            <th scope="col" className="px-2 py-1.5">Action</th>
            <th scope="col" className="px-2 py-1.5">Environment</th>
            <th scope="col" className="px-2 py-1.5">Outcome</th>
            <th scope="col" className="px-2 py-1.5">Detail</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {entries.map((e) => {
            const outcome = OUTCOME[e.outcome] ?? OUTCOME.failure;
            return (
              <tr key={e.id} data-audit-id={e.id} data-action={e.action} data-outcome={e.outcome} className="align-top">
                <td className="px-2 py-1.5 font-mono text-xs whitespace-nowrap text-slate-700">
                  <time dateTime={e.at}>{dateTime(e.at)}</time>
                </td>
                <td className="px-2 py-1.5 font-mono text-xs whitespace-nowrap">{e.actor}</td>
                <td className="px-2 py-1.5 text-xs">{e.role ?? '—'}</td>
                <td className="px-2 py-1.5 font-mono text-xs whitespace-nowrap">{e.action}</td>
                <td className="px-2 py-1.5 text-xs">{e.environment ?? '—'}</td>
                <td className="px-2 py-1.5">
                  <span className={`inline-flex rounded px-1.5 py-0.5 text-xs font-semibold ring-1 ring-inset ${outcome.className}`}>{outcome.label}</span>
                </td>
                <td className="px-2 py-1.5 text-xs break-words text-slate-800">
                  {e.detail ?? ''}
                  {e.stepTimings && <StepTimings timings={e.stepTimings} />}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
