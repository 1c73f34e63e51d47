import type { CheckFix, Evidence } from '@/lib/checks/types';
import { CopyButton } from './copy-button';

// How a check's or a runbook step's evidence and fix look, on the status page and in runbooks alike.
// On paper the copy buttons disappear and the command blocks print dark-on-white.

export function EvidenceEntries({ evidence }: { evidence: Evidence }) {
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

export function FixBlock({ fix }: { fix: CheckFix }) {
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
