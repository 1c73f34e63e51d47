import { CheckStatusBadge } from '@/components/status/status-badge';
import { CopyButton } from '@/components/status/copy-button';
import type { Evidence } from '@/lib/checks/types';
import type { StepResult } from '@/lib/runbooks/types';

// A runbook's steps as an ordered checklist. Each step has an anchor (#step-<id>) to paste in chat;
// on paper the copy buttons disappear and the command blocks print dark-on-white.

export function stepAnchor(id: string): string {
  return `step-${id}`;
}

function EvidenceList({ evidence }: { evidence: Evidence }) {
  const entries = Object.entries(evidence);
  if (entries.length === 0) return null;
  return (
    <dl className="mt-1.5 grid grid-cols-1 gap-x-4 gap-y-0.5 font-mono text-xs text-slate-700 sm:grid-cols-[minmax(8rem,max-content)_1fr]">
      {entries.map(([key, value]) => (
        <div key={key} className="contents">
          <dt className="text-slate-500">{key}</dt>
          <dd className="mb-1 break-all sm:mb-0">{value === null ? '—' : String(value)}</dd>
        </div>
      ))}
    </dl>
  );
}

export function StepFix({ fix }: { fix: NonNullable<StepResult['fix']> }) {
  return (
    <div className="mt-2 rounded border border-slate-200 bg-slate-50 p-2 print:border-slate-400 print:bg-white">
      <p className="text-xs font-semibold text-slate-800">
        Fix: <span className="font-normal">{fix.summary}</span>
      </p>
      {fix.commands?.map((command) => (
        <div key={command} className="mt-1.5 flex items-start gap-2 rounded bg-slate-900 px-2 py-1.5 print:border print:border-slate-400 print:bg-white">
          <pre className="min-w-0 flex-1 overflow-x-auto whitespace-pre-wrap break-all font-mono text-xs text-slate-100 print:text-black">
            <code>{command}</code>
          </pre>
          <span className="print:hidden">
            <CopyButton text={command} />
          </span>
        </div>
      ))}
    </div>
  );
}

export function StepItem({ step, index, highlight, anchored }: { step: StepResult; index: number; highlight: boolean; anchored: boolean }) {
  const anchor = stepAnchor(step.id);
  return (
    <li
      id={anchored ? anchor : undefined}
      data-step-id={step.id}
      data-status={step.status}
      className={`scroll-mt-4 break-inside-avoid border-l-4 px-3 py-2 target:bg-sky-50 print:target:bg-white ${highlight ? 'border-red-600 bg-red-50/60' : 'border-transparent'}`}
    >
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
        <span className="font-mono text-xs text-slate-500">{index + 1}.</span>
        <CheckStatusBadge status={step.status} />
        <h3 className="min-w-0 basis-full text-sm font-semibold text-slate-900 sm:basis-auto sm:flex-1">{step.title}</h3>
        {anchored && (
          <a href={`#${anchor}`} className="font-mono text-[11px] text-sky-800 underline print:no-underline" aria-label={`Link to step ${index + 1}`}>
            #{anchor}
          </a>
        )}
      </div>
      <p className="mt-1 text-sm text-slate-800">{step.summary}</p>
      <p className="mt-1 text-xs text-slate-600">
        <span className="font-semibold">What it means:</span> {step.meaning}
      </p>
      <p className="mt-0.5 font-mono text-[11px] text-slate-500">
        {step.isStatusCheck ? `status check ${step.check}` : `runbook step ${step.id} · reported as ${step.check}`}
        {typeof step.durationMs === 'number' ? ` · ${Math.round(step.durationMs)} ms` : ''}
      </p>
      {step.status === 'pass' && Object.keys(step.evidence).length > 0 ? (
        // Passing evidence folds away so the failing steps stand out in a long runbook.
        <details className="mt-1">
          <summary className="cursor-pointer text-xs text-slate-600">Evidence</summary>
          <EvidenceList evidence={step.evidence} />
        </details>
      ) : (
        <EvidenceList evidence={step.evidence} />
      )}
      {step.fix && step.status !== 'pass' && step.status !== 'skip' && <StepFix fix={step.fix} />}
    </li>
  );
}

/** `anchored` gives each step its #step-<id> anchor; off where one page shows the same step twice. */
export function StepList({ steps, highlight, anchored = true }: { steps: StepResult[]; highlight?: string | null; anchored?: boolean }) {
  return (
    <ol className="divide-y divide-slate-100 rounded-md border border-slate-200 bg-white shadow-sm print:border-0 print:shadow-none">
      {steps.map((step, i) => (
        <StepItem key={step.id} step={step} index={i} highlight={step.id === highlight} anchored={anchored} />
      ))}
    </ol>
  );
}
