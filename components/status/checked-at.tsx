'use client';

import { useEffect, useState } from 'react';
import { ageInWords } from './relative-time';

// When the data was fetched, ticking in the browser. If the page itself stops refreshing (the console
// is down, the network dropped) the server cannot say so, so the browser marks the data stale here.

export function CheckedAt({ iso, staleAfterSeconds }: { iso: string; staleAfterSeconds: number }) {
  const [now, setNow] = useState<Date | null>(null);
  useEffect(() => {
    const update = () => setNow(new Date());
    update();
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  }, []);

  const ageSeconds = now ? (now.getTime() - new Date(iso).getTime()) / 1000 : 0;
  const notRefreshing = now !== null && ageSeconds > staleAfterSeconds;
  return (
    <span>
      Checked{' '}
      <time dateTime={iso} title={iso} suppressHydrationWarning>
        {now ? ageInWords(iso, now) : new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC'}
      </time>
      {notRefreshing && (
        <span role="status" className="ml-2 rounded bg-amber-100 px-1.5 py-0.5 font-semibold text-amber-900">
          Stale: this page has not refreshed for {Math.round(ageSeconds)} s
        </span>
      )}
    </span>
  );
}
