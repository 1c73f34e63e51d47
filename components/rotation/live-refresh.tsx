'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useTransition } from 'react';

// While a rotation or redeploy runs, re-render the server page every few seconds so each step's
// status appears without a reload. Stops by itself once the work is finished (the server renders
// `active={false}`). A re-render is not activity: it does not keep an idle session alive.

export function LiveRefresh({ active, intervalSeconds = 2 }: { active: boolean; intervalSeconds?: number }) {
  const router = useRouter();
  const [updating, startTransition] = useTransition();

  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') startTransition(() => router.refresh());
    }, intervalSeconds * 1000);
    return () => clearInterval(timer);
  }, [active, intervalSeconds, router]);

  if (!active) return null;
  return (
    <span className="text-xs text-slate-600" aria-live="off">
      Live: updating every {intervalSeconds} s{updating ? '…' : ''}
    </span>
  );
}
