'use client';

import { useActionState } from 'react';
import type { ActionState } from '@/lib/actions/safe-action';

// One button: the server action sends the test notification and says how each webhook answered.

type ServerAction = (previous: ActionState, payload: FormData) => Promise<ActionState>;

export function TestNotificationForm({ action, disabled }: { action: ServerAction; disabled: boolean }) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form action={formAction} className="mt-2 space-y-2">
      <button
        type="submit"
        disabled={pending || disabled}
        className="rounded border border-slate-400 bg-white px-3 py-1.5 text-sm font-semibold text-slate-900 hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-60"
      >
        {pending ? 'Sending…' : 'Send test notification'}
      </button>
      {state.message && (
        <p role="status" className="text-sm text-emerald-800">
          {state.message}
        </p>
      )}
      {state.error && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
          {state.error}
          {state.signInUrl && (
            <>
              {' '}
              <a href={state.signInUrl} className="underline">
                Sign in again
              </a>
            </>
          )}
        </p>
      )}
    </form>
  );
}
