'use client';

import { useActionState } from 'react';
import { ActionRefusal } from '@/components/auth/action-refusal';
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
      <ActionRefusal state={state} />
    </form>
  );
}
