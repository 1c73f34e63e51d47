'use client';

import { useState } from 'react';

/** Copies a fix command; the command stays visible as text, so copying is a convenience, not the only way. */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="shrink-0 rounded border border-slate-600 px-1.5 py-0.5 text-[11px] font-medium text-slate-200 hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400"
      aria-label={`${label} command`}
      onClick={async () => {
        try {
          await navigator.clipboard.writeText(text);
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        } catch {
          // Clipboard access can be denied (http, permissions); the command is on screen to select by hand.
        }
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  );
}
