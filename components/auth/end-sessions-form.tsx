'use client';

import { useRouter } from 'next/navigation';
import { useActionState, useEffect } from 'react';
import type { ActionState } from '@/lib/actions/safe-action';

type ServerAction = (previous: ActionState, payload: FormData) => Promise<ActionState>;

/** One person's "End all sessions" button on the admin's sessions page; the action checks the role itself. */
export function EndSessionsForm({ action, email }: { action: ServerAction; email: string }) {
  const [state, formAction, pending] = useActionState(action, {});
  const router = useRouter();

  useEffect(() => {
    if (state.ok) router.refresh();
  }, [state, router]);

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
        {state.ok && state.message && (
          <span role="status" className="text-emerald-800">
            {state.message}
          </span>
        )}
      </span>
    </form>
  );
}
