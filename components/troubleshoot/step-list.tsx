import { Suspense } from 'react';
import { CheckStatusBadge, RunningBadge } from '@/components/status/status-badge';
import { EvidenceEntries, FixBlock } from '@/components/status/evidence-and-fix';
import type { PendingStep, StepResult } from '@/lib/runbooks/types';

// A runbook's steps as an ordered checklist. Each step has an anchor (#step-<id>) to paste in chat;
// on paper the copy buttons disappear and the command blocks print dark-on-white.

export function stepAnchor(id: string): string {
  return `step-${id}`;
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
          <EvidenceEntries evidence={step.evidence} />
        </details>
      ) : (
        <EvidenceEntries evidence={step.evidence} />
      )}
      {step.fix && step.status !== 'pass' && step.status !== 'skip' && <FixBlock fix={step.fix} />}
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

/** A step still running: its question, until its answer streams in. */
function RunningStepItem({ step, index }: { step: PendingStep; index: number }) {
  return (
    <li data-step-id={step.id} data-status="running" className="border-l-4 border-transparent px-3 py-2">
      <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
        <span className="font-mono text-xs text-slate-500">{index + 1}.</span>
        <RunningBadge />
        <h3 className="min-w-0 basis-full text-sm font-semibold text-slate-700 sm:basis-auto sm:flex-1">{step.title}</h3>
      </div>
    </li>
  );
}

async function AnsweredStepItem({ result, index }: { result: Promise<StepResult>; index: number }) {
  const step = await result;
  return <StepItem step={step} index={index} highlight={step.status === 'fail'} anchored />;
}

/** Every step in order, each shown running until its own answer streams in (React Suspense, one boundary a step). */
export function StreamedStepList({ steps }: { steps: ReadonlyArray<PendingStep & { result: Promise<StepResult> }> }) {
  return (
    <ol className="divide-y divide-slate-100 rounded-md border border-slate-200 bg-white shadow-sm print:border-0 print:shadow-none">
      {steps.map((step, i) => (
        <Suspense key={step.id} fallback={<RunningStepItem step={step} index={i} />}>
          <AnsweredStepItem result={step.result} index={i} />
        </Suspense>
      ))}
    </ol>
  );
}
