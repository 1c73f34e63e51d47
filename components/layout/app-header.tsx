import Link from 'next/link';
import type { Caller } from '@/lib/roles';
import { ActivityTracker } from '@/components/auth/activity-tracker';
import { SignOutButton } from '@/components/auth/sign-out-button';

const ROLE_STYLE: Record<Caller['role'], string> = {
  viewer: 'bg-slate-600 text-slate-100',
  operator: 'bg-sky-700 text-white',
  admin: 'bg-fuchsia-700 text-white',
};

/** The console's top bar; `caller` is null on the sign-in page. Presentational: the caller is looked up by the layout. */
export function AppHeader({ caller }: { caller: Caller | null }) {
  return (
    <header className="sticky top-0 z-10 border-b border-slate-700 bg-slate-900 text-slate-100">
      <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-4 gap-y-1 px-3 py-2">
        <Link href="/" className="flex items-center gap-2 text-sm font-bold tracking-tight text-white">
          <span aria-hidden="true" className="inline-block h-2.5 w-2.5 rounded-sm bg-sky-400" />
          LinkBox Ops Console
        </Link>
        {caller && (
          <nav aria-label="Main" className="flex gap-3 text-sm">
            <Link href="/" className="text-slate-300 hover:text-white">
              Environments
            </Link>
            <Link href="/audit" className="text-slate-300 hover:text-white">
              Audit log
            </Link>
            {caller.role === 'admin' && (
              <>
                <Link href="/admin/sessions" className="text-slate-300 hover:text-white">
                  Sessions
                </Link>
                <Link href="/admin/notifications" className="text-slate-300 hover:text-white">
                  Notifications
                </Link>
              </>
            )}
          </nav>
        )}
        {caller && (
          <div className="ml-auto flex items-center gap-2 text-xs" aria-label="Signed-in user" role="group">
            <span className="max-w-[16rem] truncate font-mono" title={caller.id}>
              {caller.id}
            </span>
            <span className={`rounded px-1.5 py-0.5 font-semibold uppercase tracking-wide ${ROLE_STYLE[caller.role]}`}>{caller.role}</span>
            <SignOutButton />
            <ActivityTracker />
          </div>
        )}
      </div>
    </header>
  );
}
