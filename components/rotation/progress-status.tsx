// A step's or an instance's status as text and symbol; colour only reinforces it.

export type ProgressStatus = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

const STYLE: Record<ProgressStatus, { label: string; symbol: string; className: string }> = {
  pending: { label: 'Pending', symbol: '·', className: 'bg-slate-100 text-slate-700 ring-slate-400/40' },
  running: { label: 'Running', symbol: '▶', className: 'bg-sky-50 text-sky-900 ring-sky-600/40' },
  done: { label: 'Done', symbol: '✓', className: 'bg-emerald-50 text-emerald-800 ring-emerald-600/30' },
  failed: { label: 'Failed', symbol: '✕', className: 'bg-red-50 text-red-800 ring-red-600/40' },
  skipped: { label: 'Skipped', symbol: '–', className: 'bg-slate-100 text-slate-600 ring-slate-400/40' },
};

export function ProgressStatusBadge({ status }: { status: ProgressStatus }) {
  const s = STYLE[status] ?? STYLE.pending;
  return (
    <span
      className={`inline-flex w-20 shrink-0 items-center gap-1 rounded px-1.5 py-0.5 text-xs font-semibold ring-1 ring-inset whitespace-nowrap ${s.className}`}
      data-status={status}
    >
      <span aria-hidden="true">{s.symbol}</span>
      {s.label}
    </span>
  );
}
