'use client';

import { reloadAtSignIn } from '@/components/auth/reload-at-sign-in';
import { useRouter } from 'next/navigation';
import { useEffect, useState, useTransition } from 'react';

// Re-renders the server page every `intervalSeconds` without a full reload (the cache makes that cheap),
// and offers "Refresh now", which first asks the JSON API for fresh data (bypassing the cache), then re-renders.

export function AutoRefresh({ freshUrl, intervalSeconds = 10 }: { freshUrl: string; intervalSeconds?: number }) {
  const router = useRouter();
  const [isRendering, startTransition] = useTransition();
  const [fetchingFresh, setFetchingFresh] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const tick = () => {
      if (document.visibilityState === 'visible') startTransition(() => router.refresh());
    };
    const timer = setInterval(tick, intervalSeconds * 1000);
    document.addEventListener('visibilitychange', tick);
    return () => {
      clearInterval(timer);
      document.removeEventListener('visibilitychange', tick);
    };
  }, [router, intervalSeconds]);

  async function refreshNow() {
    setFetchingFresh(true);
    setProblem(null);
    try {
      const res = await fetch(freshUrl, { cache: 'no-store', headers: { accept: 'application/json' } });
      if (res.status === 401) {
        reloadAtSignIn('ended');
        return;
      }
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as { error?: string } | null;
        setProblem(body?.error ?? `refresh failed (HTTP ${res.status})`);
      }
    } catch {
      setProblem('refresh failed: the console did not answer');
    } finally {
      setFetchingFresh(false);
    }
    startTransition(() => router.refresh());
  }

  const busy = fetchingFresh || isRendering;
  return (
    <div className="flex flex-wrap items-center gap-2 text-xs text-slate-600">
      <button
        type="button"
        onClick={refreshNow}
        disabled={fetchingFresh}
        className="rounded border border-slate-300 bg-white px-2 py-1 font-medium text-slate-800 shadow-sm hover:bg-slate-50 disabled:cursor-wait disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      >
        {fetchingFresh ? 'Refreshing…' : 'Refresh now'}
      </button>
      <span>Auto-refresh every {intervalSeconds} s</span>
      <span aria-live="polite" className={busy ? 'text-sky-700' : 'sr-only'}>
        {busy ? 'Updating…' : 'Up to date'}
      </span>
      {problem && (
        <span role="alert" className="text-red-700">
          {problem}
        </span>
      )}
    </div>
  );
}
