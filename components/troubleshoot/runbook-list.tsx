import Link from 'next/link';
import { CheckStatusBadge } from '@/components/status/status-badge';
import type { CheckStatus } from '@/lib/checks/types';
import type { Diagnosis, RunbookDefinition } from '@/lib/runbooks/types';

// The environment's runbooks; with a diagnosis, each shows its worst step so the red one stands out.

const SEVERITY: CheckStatus[] = ['fail', 'error', 'warn', 'skip', 'pass'];

function worstOf(runbook: RunbookDefinition, diagnosis: Diagnosis | null): CheckStatus | null {
  if (!diagnosis) return null;
  const statuses = diagnosis.steps.filter((s) => s.runbooks.includes(runbook.id)).map((s) => s.status);
  return SEVERITY.find((s) => statuses.includes(s)) ?? null;
}

export function RunbookList({ runbooks, base, diagnosis }: { runbooks: RunbookDefinition[]; base: string; diagnosis: Diagnosis | null }) {
  return (
    <ul className="divide-y divide-slate-100 rounded-md border border-slate-200 bg-white shadow-sm">
      {runbooks.map((r) => {
        const worst = worstOf(r, diagnosis);
        return (
          <li key={r.id} data-runbook={r.id} className="px-3 py-2">
            <div className="flex flex-wrap items-center gap-2">
              {worst && <CheckStatusBadge status={worst} />}
              <Link href={`${base}/${r.id}`} className="text-sm font-semibold text-sky-900 underline">
                {r.title}
              </Link>
              {diagnosis?.runbook === r.id && <span className="rounded bg-red-700 px-1.5 py-0.5 text-[11px] font-bold uppercase text-white">Open this one</span>}
            </div>
            <p className="mt-0.5 text-xs text-slate-600">{r.symptom}</p>
            <p className="mt-0.5 text-[11px] text-slate-500">{r.steps.length} steps</p>
          </li>
        );
      })}
    </ul>
  );
}
