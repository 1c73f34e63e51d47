import type { StepView } from '@/lib/operations/types';
import { ProgressStatusBadge } from './progress-status';
import { clockTime, duration } from './time';

// A rotation's steps in order, each with its status, when it ran and what it found.

export function StepList({ steps, label }: { steps: StepView[]; label: string }) {
  return (
    <ol aria-label={label} className="divide-y divide-slate-100 rounded border border-slate-200 bg-white">
      {steps.map((step, index) => {
        const took = duration(step.startedAt, step.finishedAt);
        return (
          <li key={step.name} data-step={step.name} data-status={step.status} className="flex flex-wrap items-start gap-x-3 gap-y-1 px-3 py-2">
            <span className="w-5 shrink-0 pt-0.5 text-right font-mono text-xs text-slate-500">{index + 1}.</span>
            <ProgressStatusBadge status={step.status} />
            <div className="min-w-0 flex-1">
              <p className="text-sm font-medium text-slate-900">{step.label}</p>
              {step.detail && <p className="text-xs break-words text-slate-700">{step.detail}</p>}
            </div>
            <p className="shrink-0 font-mono text-[11px] text-slate-500">
              {step.startedAt ? (
                <>
                  <time dateTime={step.startedAt}>{clockTime(step.startedAt)}</time>
                  {step.finishedAt && (
                    <>
                      {' → '}
                      <time dateTime={step.finishedAt}>{clockTime(step.finishedAt)}</time>
                    </>
                  )}
                  {took && ` (${took})`}
                </>
              ) : (
                'not started'
              )}
            </p>
          </li>
        );
      })}
    </ol>
  );
}
