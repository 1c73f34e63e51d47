'use client';

import { useRouter } from 'next/navigation';
import { createContext, useActionState, useContext, useEffect, useState } from 'react';
import type { ActionState } from '@/lib/actions/safe-action';

type ServerAction = (previous: ActionState, payload: FormData) => Promise<ActionState>;

/** Where a row's form says what it ended: above the table, since the person's row leaves it. */
const AnnounceEnded = createContext<(message: string) => void>(() => {});

/** The sessions table with the line that confirms the last "End all sessions", kept across the refresh that removes the row. */
export function EndedSessionsArea({ children }: { children: React.ReactNode }) {
  const [message, setMessage] = useState<string | null>(null);
  return (
    <AnnounceEnded.Provider value={setMessage}>
      <p aria-live="polite" className="mt-3 text-sm">
        {message && (
          <span role="status" className="text-emerald-800">
            {message}
          </span>
        )}
      </p>
      {children}
    </AnnounceEnded.Provider>
  );
}

/** One person's "End all sessions" button on the admin's sessions page; the action checks the role itself. */
export function EndSessionsForm({ action, email }: { action: ServerAction; email: string }) {
  const [state, formAction, pending] = useActionState(action, {});
  const announce = useContext(AnnounceEnded);
  const router = useRouter();

  useEffect(() => {
    if (!state.ok) return;
    if (state.message) announce(state.message);
    router.refresh();
  }, [state, router, announce]);

  return (
    <form action={formAction} className="flex flex-wrap items-center gap-2">
      <input type="hidden" name="email" value={email} />
      <button
        type="submit"
        disabled={pending}
        aria-label={`End all sessions of ${email}`}
        className="rounded border border-red-700 bg-white px-2 py-1 text-xs font-semibold text-red-800 hover:bg-red-50 disabled:cursor-wait disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      >
        {pending ? 'Ending…' : 'End all sessions'}
      </button>
      <span aria-live="polite" className="text-xs">
        {state.error && (
          <span role="alert" className="text-red-800">
            {state.error}
          </span>
        )}
      </span>
    </form>
  );
}
