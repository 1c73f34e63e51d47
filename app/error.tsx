'use client';

import { useEffect } from 'react';

// In production React hides the server's message (only a digest reaches the browser), which is what
// we want: an error text could name internals. The console log has the details under that digest.
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error.digest ?? error.name);
  }, [error]);
  return (
    <main className="mx-auto mt-16 max-w-md px-4">
      <div role="alert" className="rounded border border-red-300 bg-red-50 p-4">
        <h1 className="text-base font-bold text-red-900">This page could not be shown</h1>
        <p className="mt-1 text-sm text-red-900">
          The console hit an error{error.digest ? ` (reference ${error.digest})` : ''}. The console log has the details.
        </p>
        <button type="button" onClick={reset} className="mt-3 rounded border border-red-400 bg-white px-2 py-1 text-xs font-semibold text-red-900">
          Try again
        </button>
      </div>
    </main>
  );
}
