import Link from 'next/link';

// The environment page's "Diagnose": opens the troubleshoot page, which runs every runbook and
// names the root cause. A plain link, so it works without JavaScript and can be shared.

export function DiagnoseButton({ environment }: { environment: string }) {
  return (
    <Link
      href={`/environments/${encodeURIComponent(environment)}/troubleshoot?fresh=1#diagnosis-heading`}
      className="inline-flex items-center rounded border border-slate-300 bg-white px-2.5 py-1 text-xs font-semibold text-slate-800 shadow-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
    >
      Diagnose
    </Link>
  );
}
