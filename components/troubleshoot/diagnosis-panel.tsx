import Link from 'next/link';
import { CheckStatusBadge } from '@/components/status/status-badge';
import type { Diagnosis, RunbookDefinition } from '@/lib/runbooks/types';
import { stepAnchor } from './step-list';

// The diagnosis in one box: the root cause, the runbook to open at the failing step, and what the
// console could not check (never presented as broken). It may come before every step has answered,
// once the root cause is certain; it then says how many are still running.

export function DiagnosisPanel({ diagnosis, runbooks, base }: { diagnosis: Diagnosis; runbooks: RunbookDefinition[]; base: string }) {
  const cause = diagnosis.steps.find((s) => s.id === diagnosis.rootCauseStep);
  const runbook = runbooks.find((r) => r.id === diagnosis.runbook);
  const unchecked = diagnosis.steps.filter((s) => s.status === 'error');
  return (
    <section aria-labelledby="diagnosis-heading" data-verdict={diagnosis.verdict} data-root-cause={diagnosis.rootCause ?? ''} className="rounded-md border border-slate-200 bg-white p-3 shadow-sm">
      <h2 id="diagnosis-heading" className="text-sm font-bold uppercase tracking-wide text-slate-700">
        Diagnosis
      </h2>
      {diagnosis.rootCause && cause ? (
        <div role="alert" aria-label="Root cause" className="mt-2 rounded border-l-4 border-red-600 bg-red-50 px-3 py-2">
          <p className="text-sm font-semibold text-red-900">
            Root cause: <span className="font-mono">{diagnosis.rootCause}</span>
            {cause.id !== diagnosis.rootCause && <span className="font-normal"> (found by step {cause.id})</span>}
          </p>
          <p className="text-sm text-red-900">{cause.summary}</p>
          {runbook && (
            <Link href={`${base}/${runbook.id}#${stepAnchor(cause.id)}`} className="mt-1 inline-block text-sm font-semibold text-red-800 underline">
              Open runbook: {runbook.title}
            </Link>
          )}
        </div>
      ) : diagnosis.verdict === 'unknown' ? (
        <p role="status" className="mt-2 rounded border-l-4 border-violet-600 bg-violet-50 px-3 py-2 text-sm text-violet-950">
          Nothing fails, but the console could not check {unchecked.length} step{unchecked.length === 1 ? '' : 's'}: the path may still be broken.
        </p>
      ) : (
        <p role="status" className="mt-2 rounded border-l-4 border-emerald-600 bg-emerald-50 px-3 py-2 text-sm text-emerald-950">
          No root cause: every step of every runbook passes.
        </p>
      )}
      {!diagnosis.complete && (
        <p className="mt-2 text-xs text-slate-600" data-testid="diagnosis-pending">
          Certain before every step answered: nothing after {diagnosis.rootCauseStep} can change it. {diagnosis.pending.length} step
          {diagnosis.pending.length === 1 ? '' : 's'} still running; their answers stream into the list below.
        </p>
      )}
      {unchecked.length > 0 && (
        <div className="mt-2">
          <h3 className="text-xs font-semibold text-slate-700">Could not check</h3>
          <ul className="mt-1 space-y-1">
            {unchecked.map((s) => (
              <li key={s.id} className="flex flex-wrap items-start gap-2 text-xs text-slate-700">
                <CheckStatusBadge status={s.status} />
                <span className="font-mono">{s.id}</span>
                <span className="min-w-0 flex-1">{s.summary}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <p className="mt-2 text-[11px] text-slate-500">Checked {new Date(diagnosis.checkedAt).toISOString().replace('T', ' ').slice(0, 19)} UTC</p>
    </section>
  );
}
