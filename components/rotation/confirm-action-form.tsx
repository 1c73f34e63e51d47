'use client';

import { useRouter } from 'next/navigation';
import { useActionState, useEffect, useId, useRef } from 'react';
import { ActionRefusal } from '@/components/auth/action-refusal';
import { useKeptFormState } from '@/components/auth/kept-form-state';
import type { ActionState } from '@/lib/actions/safe-action';

// The typed confirmation in front of every dangerous action: the environment's name and one button.
// The server action checks it again (and that the sign-in is recent); this form only collects it and
// shows the answer. What was typed survives "Sign in again".

type ServerAction = (previous: ActionState, payload: FormData) => Promise<ActionState>;

interface Props {
  action: ServerAction;
  environment: string;
  submitLabel: string;
  /** The redeploy's optional image tag. */
  askImageTag?: boolean;
  tone?: 'danger' | 'neutral';
}

export function ConfirmActionForm({ action, environment, submitLabel, askImageTag = false, tone = 'danger' }: Props) {
  const [state, formAction, pending] = useActionState(action, {});
  const router = useRouter();
  const id = useId();
  const formRef = useRef<HTMLFormElement>(null);
  const forgetTyped = useKeptFormState(formRef, `${environment}:${submitLabel}`);

  useEffect(() => {
    // The action started work in the background: show its steps now rather than at the next poll.
    if (state.ok) {
      forgetTyped();
      router.refresh();
    }
  }, [state, router, forgetTyped]);

  const button =
    tone === 'danger'
      ? 'border-red-700 bg-red-700 text-white hover:bg-red-800'
      : 'border-slate-400 bg-white text-slate-900 hover:bg-slate-50';

  return (
    <form ref={formRef} action={formAction} className="space-y-3" aria-describedby={`${id}-help`}>
      <input type="hidden" name="environment" value={environment} />
      <p id={`${id}-help`} className="text-sm text-slate-700">
        Type <strong className="font-mono">{environment}</strong> to confirm.
      </p>
      <div>
        <label htmlFor={`${id}-confirm`} className="block text-sm font-medium text-slate-800">
          Confirm environment name
        </label>
        <input
          id={`${id}-confirm`}
          name="confirmEnvironment"
          type="text"
          required
          autoComplete="off"
          spellCheck={false}
          maxLength={64}
          className="mt-1 w-full max-w-xs rounded border border-slate-300 px-2 py-1 font-mono text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
        />
      </div>
      {askImageTag && (
        <div>
          <label htmlFor={`${id}-tag`} className="block text-sm font-medium text-slate-800">
            Image tag (optional)
          </label>
          <input
            id={`${id}-tag`}
            name="imageTag"
            type="text"
            autoComplete="off"
            spellCheck={false}
            maxLength={128}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]{0,127}"
            aria-describedby={`${id}-tag-help`}
            className="mt-1 w-full max-w-xs rounded border border-slate-300 px-2 py-1 font-mono text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
          />
          <p id={`${id}-tag-help`} className="mt-0.5 text-xs text-slate-600">
            Leave empty to restart on the image that is running now.
          </p>
        </div>
      )}
      <button
        type="submit"
        disabled={pending}
        className={`rounded border px-3 py-1.5 text-sm font-semibold shadow-sm disabled:cursor-wait disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500 ${button}`}
      >
        {pending ? 'Working…' : submitLabel}
      </button>
      <div aria-live="polite">
        <ActionRefusal state={state} />
        {state.ok && state.message && (
          <p role="status" className="text-sm text-emerald-800">
            {state.message}
          </p>
        )}
      </div>
    </form>
  );
}
