import Link from 'next/link';
import type { Role } from '@/lib/config/schema';

// The environment page's actions slot. Rotation and restart (issue 5) and troubleshooting (issue 4)
// own the pages these lead to, and each of those pages checks the role itself; hiding a link here is
// only so a viewer is not offered what they cannot do.

const linkClass =
  'inline-flex items-center rounded border px-2.5 py-1 text-xs font-semibold shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500';

export function EnvironmentActions({ environment, kind, role }: { environment: string; kind: 'aws' | 'local'; role: Role }) {
  const base = `/environments/${encodeURIComponent(environment)}`;
  const canOperate = role === 'operator' || role === 'admin';
  return (
    <nav aria-label="Environment actions" className="flex flex-wrap items-center gap-2">
      <Link href={`${base}/troubleshoot?fresh=1`} className={`${linkClass} border-slate-300 bg-white text-slate-800 hover:bg-slate-50`}>
        Diagnose
      </Link>
      {canOperate && kind === 'aws' && (
        <>
          <Link href={`${base}/rotate`} className={`${linkClass} border-amber-400 bg-amber-50 text-amber-950 hover:bg-amber-100`}>
            Rotate password
          </Link>
          <Link href={`${base}/redeploy`} className={`${linkClass} border-amber-400 bg-amber-50 text-amber-950 hover:bg-amber-100`}>
            Restart containers
          </Link>
        </>
      )}
    </nav>
  );
}
