import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound, redirect } from 'next/navigation';
import { ConfirmActionForm } from '@/components/rotation/confirm-action-form';
import { LiveRefresh } from '@/components/rotation/live-refresh';
import { StepList } from '@/components/rotation/step-list';
import { dateTime } from '@/components/rotation/time';
import { confirmFormContext, signInAgainPath } from '@/lib/actions/confirm-form-context';
import { rollbackRotationAction } from '@/lib/actions/rollback-rotation';
import { startRotationAction } from '@/lib/actions/start-rotation';
import { getSessionInfo, signInPath } from '@/lib/auth/session';
import { getConfig } from '@/lib/config/load';
import { getRotation, ROTATION_STEPS, type RotationView } from '@/lib/rotation';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';
import { LockNotice } from '@/components/rotation/lock-notice';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';

type Params = Promise<{ name: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: ENVIRONMENT_NAME_PATTERN.test(name) ? `Rotate password · ${name}` : 'Rotate password' };
}

const STATE_TEXT: Record<RotationView['state'], string> = {
  running: 'Running',
  completed: 'Rotation complete',
  failed: 'Rotation failed',
  'rolling-back': 'Rolling back',
  'rolled-back': 'Rolled back',
};

export default async function RotatePage({ params }: { params: Params }) {
  const { name } = await params;
  const path = `/environments/${encodeURIComponent(name)}/rotate`;
  const session = await getSessionInfo();
  if (!session) redirect(signInPath(path));
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) notFound();
  const env = getConfig().environments.find((e) => e.name === name);
  if (!env) notFound();

  const { caller } = session;
  const form = confirmFormContext(session);
  const rotation = env.kind === 'aws' ? await getRotation(caller, name) : null;
  const inProgress = rotation?.state === 'running' || rotation?.state === 'rolling-back';
  // A lock held by another operation (a redeploy), or by a rotation whose page we are not showing.
  const otherWork = rotation?.lock && !(inProgress && rotation.lock.operation === 'rotation') ? rotation.lock : null;

  return (
    <main className="mx-auto max-w-4xl px-3 py-4">
      <Breadcrumb trail={environmentTrail(name, { label: 'Rotate password' })} />
      <h1 className="text-xl font-bold text-slate-900">Rotate the database password of {name}</h1>

      {env.kind !== 'aws' ? (
        <p className="mt-3 text-sm text-slate-700">
          {name} is a local environment: its password is the docker-compose default, with no SSM parameter or RDS instance to rotate.
        </p>
      ) : (
        <>
          <section aria-labelledby="plan" className="mt-3 rounded border border-slate-200 bg-white p-3">
            <h2 id="plan" className="text-sm font-semibold text-slate-900">
              What will happen
            </h2>
            <p className="mt-1 text-sm text-slate-700">
              The console changes LinkBox&apos;s master password in an order where no password is ever lost and the backends
              keep serving: the new password is stored in SSM as <em>pending</em> before RDS is changed, it is promoted to{' '}
              <code className="font-mono">db-password</code> only after a login with it succeeded, and the containers are restarted
              one at a time, each answering <code className="font-mono">/health</code> before the next. Until the promotion, a
              failed rotation can be rolled back to the current password.
            </p>
            <ol className="mt-2 list-decimal pl-6 text-sm text-slate-700">
              {ROTATION_STEPS.map((s) => (
                <li key={s.name}>{s.label}</li>
              ))}
            </ol>
          </section>

          {otherWork && <LockNotice environment={name} lock={otherWork} />}

          {rotation && (
            <section aria-labelledby="rotation" className="mt-4" data-rotation-id={rotation.id} data-state={rotation.state}>
              <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
                <h2 id="rotation" className="text-base font-semibold text-slate-900">
                  {inProgress ? 'Rotation in progress' : 'Last rotation'}
                </h2>
                <LiveRefresh active={inProgress} />
              </div>
              <p className="mt-1 text-sm text-slate-700">
                Started by <strong>{rotation.by}</strong>
                {rotation.role ? ` (${rotation.role})` : ''} at {dateTime(rotation.startedAt)}
                {rotation.finishedAt ? `, finished at ${dateTime(rotation.finishedAt)}` : ''}.
                {inProgress && rotation.lock && ` Held by ${rotation.lock.by} since ${dateTime(rotation.lock.since)}.`}
              </p>
              {inProgress && !rotation.lock && (
                <p role="status" className="mt-1 text-sm text-amber-900">
                  No console is working on this rotation right now; a console resumes it when it starts{rotation.canRollBack ? ', or roll it back below' : ''}.
                </p>
              )}
              <p
                role="status"
                className={`mt-2 text-sm font-semibold ${
                  rotation.state === 'completed' ? 'text-emerald-800' : rotation.state === 'failed' ? 'text-red-800' : 'text-slate-900'
                }`}
              >
                {STATE_TEXT[rotation.state]}
              </p>
              {rotation.error && (
                <p role="alert" className="mt-1 rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
                  {rotation.error}
                </p>
              )}
              <div className="mt-2">
                <StepList steps={rotation.steps} label="Rotation steps" />
              </div>
              {rotation.canRollBack && form.canOperate && (
                <section aria-labelledby="rollback" className="mt-3 rounded border border-amber-300 bg-amber-50 p-3">
                  <h3 id="rollback" className="text-sm font-semibold text-amber-950">
                    Roll back
                  </h3>
                  <p className="mt-1 text-sm text-amber-950">
                    Sets the RDS master password back to the current <code className="font-mono">db-password</code> in SSM and removes
                    the pending one. The backends keep the password they have.
                  </p>
                  <div className="mt-2">
                    <ConfirmActionForm action={rollbackRotationAction} environment={name} submitLabel="Roll back rotation" askPassword={form.askPassword} tone="neutral" />
                  </div>
                </section>
              )}
            </section>
          )}

          {!inProgress && !otherWork && (
            <section aria-labelledby="start" className="mt-4 rounded border border-red-200 bg-white p-3">
              <h2 id="start" className="text-base font-semibold text-slate-900">
                Start a rotation
              </h2>
              {form.canOperate ? (
                <>
                  {form.signInTooOld && (
                    <p role="status" className="mt-1 text-sm text-amber-900">
                      Rotating needs a sign-in from the last 15 minutes.{' '}
                      <Link href={signInAgainPath(path)} className="font-semibold underline">
                        Sign in again
                      </Link>{' '}
                      first.
                    </p>
                  )}
                  <div className="mt-2">
                    <ConfirmActionForm action={startRotationAction} environment={name} submitLabel="Start rotation" askPassword={form.askPassword} />
                  </div>
                </>
              ) : (
                <p className="mt-1 text-sm text-slate-700">Only operators and admins can rotate the password. You are signed in as {caller.role}.</p>
              )}
            </section>
          )}
          <p className="mt-4 text-xs text-slate-600">
            Every start, refusal and outcome is in the{' '}
            <Link href={`/audit?environment=${encodeURIComponent(name)}`} className="underline">
              audit log
            </Link>
            .
          </p>
        </>
      )}
    </main>
  );
}
