import Link from 'next/link';
import type { ActionState } from '@/lib/actions/safe-action';

// A server action's refusal as a form shows it: the message, and "Sign in again" when the action
// asked for a recent sign-in (the link returns to this page; the form keeps what was typed).

export function ActionRefusal({ state }: { state: ActionState }) {
  if (!state.error) return null;
  return (
    <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
      {state.error}
      {state.signInUrl && (
        <>
          {' '}
          <Link href={state.signInUrl} className="font-semibold underline">
            Sign in again
          </Link>
        </>
      )}
    </p>
  );
}
