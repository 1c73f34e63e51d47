'use client';

import Link from 'next/link';
import { useActionState } from 'react';
import { CheckStatusBadge } from '@/components/status/status-badge';
import { triageErrorMessage, type TriageState } from '@/lib/actions/triage';
import { StepList } from './step-list';

// Paste what the backend printed; the matching runbooks come back already run.

export function TriageForm({ environment, base }: { environment: string; base: string }) {
  const [state, action, pending] = useActionState<TriageState, FormData>(triageErrorMessage, { status: 'idle' });
  return (
    <section aria-labelledby="triage-heading" className="rounded-md border border-slate-200 bg-white p-3 shadow-sm print:hidden">
      <h2 id="triage-heading" className="text-sm font-bold uppercase tracking-wide text-slate-700">
        Triage an error message
      </h2>
      <form action={action} className="mt-2 space-y-2">
        <input type="hidden" name="environment" value={environment} />
        <label htmlFor="triage-text" className="block text-xs font-semibold text-slate-800">
          Error message
        </label>
        <textarea
          id="triage-text"
          name="text"
          rows={5}
          spellCheck={false}
          autoComplete="off"
          placeholder={'e.g. psycopg2.OperationalError: FATAL:  password authentication failed for user "linkbox"'}
          className="block w-full rounded border border-slate-300 px-2 py-1.5 font-mono text-xs text-slate-900 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
        />
        <p className="text-[11px] text-slate-500">At most 10 kB. The text is matched on the server and not stored or logged.</p>
        <button
          type="submit"
          disabled={pending}
          className="rounded border border-sky-700 bg-sky-700 px-2.5 py-1 text-xs font-semibold text-white hover:bg-sky-800 disabled:opacity-60"
        >
          {pending ? 'Running…' : 'Find runbooks'}
        </button>
      </form>
      <div aria-live="polite" className="mt-3">
        {state.status === 'error' && (
          <p role="alert" className="rounded border-l-4 border-amber-500 bg-amber-50 px-3 py-2 text-sm text-amber-950">
            {state.message}
          </p>
        )}
        {state.status === 'matched' && (
          <div className="space-y-3">
            <p className="text-sm text-slate-800">
              Matched:{' '}
              {state.reasons.map((r, i) => (
                <span key={r.label}>
                  {i > 0 && ', '}
                  <strong>{r.label}</strong> <span className="text-xs text-slate-500">({r.source})</span>
                </span>
              ))}
            </p>
            {state.runs.map((run) => (
              <div key={run.runbook} data-runbook={run.runbook}>
                <h3 className="flex flex-wrap items-center gap-2 text-sm font-semibold text-slate-900">
                  <Link href={`${base}/${run.runbook}`} className="underline">
                    {run.title}
                  </Link>
                  <CheckStatusBadge status={run.firstFailingStep ? 'fail' : run.steps.some((s) => s.status === 'error') ? 'error' : 'pass'} />
                </h3>
                <div className="mt-1">
                  <StepList steps={run.steps} highlight={run.firstFailingStep} anchored={false} />
                </div>
              </div>
            ))}
          </div>
        )}
      </div>
    </section>
  );
}
