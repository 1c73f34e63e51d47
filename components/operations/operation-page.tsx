import Link from 'next/link';
import type { ReactNode } from 'react';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';
import type { ActionState } from '@/lib/actions/safe-action';
import { ConfirmActionForm } from '@/components/rotation/confirm-action-form';

// What the rotate and restart pages share: the frame (trail, title, what will happen, audit link),
// and the start section with its typed confirmation, or the reason the caller cannot start.

export function OperationFrame({
  environment,
  crumb,
  title,
  plan,
  local,
  children,
}: {
  environment: string;
  crumb: string;
  title: string;
  /** "What will happen", in the operator's words. */
  plan: ReactNode;
  /** Shown instead of everything else for a local environment. */
  local: string | null;
  children: ReactNode;
}) {
  return (
    <main className="mx-auto max-w-4xl px-3 py-4">
      <Breadcrumb trail={environmentTrail(environment, { label: crumb })} />
      <h1 className="text-xl font-bold text-slate-900">{title}</h1>
      {local ? (
        <p className="mt-3 text-sm text-slate-700">{local}</p>
      ) : (
        <>
          <section aria-labelledby="plan" className="mt-3 rounded border border-slate-200 bg-white p-3">
            <h2 id="plan" className="text-sm font-semibold text-slate-900">
              What will happen
            </h2>
            {plan}
          </section>
          {children}
          <p className="mt-4 text-xs text-slate-600">
            Every start, refusal and outcome is in the{' '}
            <Link href={`/audit?environment=${encodeURIComponent(environment)}`} className="underline">
              audit log
            </Link>
            .
          </p>
        </>
      )}
    </main>
  );
}

type ServerAction = (previous: ActionState, payload: FormData) => Promise<ActionState>;

export function StartOperation({
  environment,
  heading,
  submitLabel,
  gerund,
  infinitive,
  role,
  form,
  action,
  signInAgainHref,
  askImageTag = false,
}: {
  environment: string;
  heading: string;
  submitLabel: string;
  /** "Rotating": what needs a recent sign-in. */
  gerund: string;
  /** "rotate the password": what only operators may do. */
  infinitive: string;
  role: string;
  form: { canOperate: boolean; signInTooOld: boolean; reauthIgnored: boolean };
  action: ServerAction;
  signInAgainHref: string;
  askImageTag?: boolean;
}) {
  return (
    <section aria-labelledby="start" className="mt-4 rounded border border-red-200 bg-white p-3">
      <h2 id="start" className="text-base font-semibold text-slate-900">
        {heading}
      </h2>
      {form.canOperate ? (
        <>
          {form.signInTooOld && !form.reauthIgnored && (
            <p role="status" className="mt-1 text-sm text-amber-900">
              {gerund} needs a sign-in from the last 15 minutes.{' '}
              <Link href={signInAgainHref} className="font-semibold underline">
                Sign in again
              </Link>{' '}
              first; what you type below is kept.
            </p>
          )}
          {form.reauthIgnored && (
            <p role="status" className="mt-1 text-sm text-amber-900">
              You signed in again, but your identity provider did not ask for your password (it ignored the console&apos;s
              request), so {gerund.toLowerCase()} still needs a sign-in from the last 15 minutes. Sign out of the identity provider,
              then{' '}
              <Link href={signInAgainHref} className="font-semibold underline">
                sign in again
              </Link>
              ; if it keeps happening, ask its admins to honour <code className="font-mono">prompt=login</code> and{' '}
              <code className="font-mono">max_age</code>.
            </p>
          )}
          <div className="mt-2">
            <ConfirmActionForm action={action} environment={environment} submitLabel={submitLabel} askImageTag={askImageTag} />
          </div>
        </>
      ) : (
        <p className="mt-1 text-sm text-slate-700">
          Only operators and admins can {infinitive}. You are signed in as {role}.
        </p>
      )}
    </section>
  );
}
