import type { CheckStatus, OverallStatus } from '@/lib/checks/types';

// Status is always text plus a symbol, colour only reinforces it: readable in grayscale and by screen readers.

const CHECK: Record<CheckStatus, { label: string; symbol: string; className: string }> = {
  pass: { label: 'Pass', symbol: '✓', className: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30' },
  warn: { label: 'Warn', symbol: '!', className: 'bg-amber-50 text-amber-900 ring-amber-600/40' },
  fail: { label: 'Fail', symbol: '✕', className: 'bg-red-50 text-red-800 ring-red-600/40' },
  skip: { label: 'Skipped', symbol: '–', className: 'bg-slate-100 text-slate-600 ring-slate-400/40' },
  error: { label: 'Could not check', symbol: '?', className: 'bg-violet-50 text-violet-800 ring-violet-600/30' },
};

const OVERALL: Record<OverallStatus, { label: string; symbol: string; className: string }> = {
  healthy: { label: 'Healthy', symbol: '✓', className: 'bg-emerald-600 text-white ring-emerald-700' },
  degraded: { label: 'Degraded', symbol: '!', className: 'bg-amber-400 text-amber-950 ring-amber-500' },
  broken: { label: 'Broken', symbol: '✕', className: 'bg-red-600 text-white ring-red-700' },
  unknown: { label: 'Unknown', symbol: '?', className: 'bg-violet-600 text-white ring-violet-700' },
};

const base = 'inline-flex shrink-0 items-center gap-1 rounded px-1.5 py-0.5 text-xs font-semibold ring-1 ring-inset whitespace-nowrap';

export function CheckStatusBadge({ status }: { status: CheckStatus }) {
  const s = CHECK[status];
  return (
    <span className={`${base} ${s.className}`} data-status={status}>
      <span aria-hidden="true">{s.symbol}</span>
      {s.label}
    </span>
  );
}

export function OverallStatusBadge({ overall, large = false }: { overall: OverallStatus; large?: boolean }) {
  const s = OVERALL[overall];
  return (
    <span className={`${base} ${s.className} ${large ? 'px-2.5 py-1 text-sm' : ''}`} data-overall={overall}>
      <span aria-hidden="true">{s.symbol}</span>
      {s.label}
    </span>
  );
}

export function checkStatusLabel(status: CheckStatus): string {
  return CHECK[status].label;
}

export function overallLabel(overall: OverallStatus): string {
  return OVERALL[overall].label;
}

/** A check or step that has not answered yet: streamed pages show it until its answer arrives. */
export function RunningBadge() {
  return (
    <span className={`${base} animate-pulse bg-sky-50 text-sky-900 ring-sky-600/30 motion-reduce:animate-none`} data-status="running">
      <span aria-hidden="true">…</span>
      Running
    </span>
  );
}
