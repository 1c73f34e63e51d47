import type { Metadata } from 'next';
import { ConfirmActionForm } from '@/components/rotation/confirm-action-form';
import { LiveRefresh } from '@/components/rotation/live-refresh';
import { StepList } from '@/components/rotation/step-list';
import { dateTime } from '@/components/rotation/time';
import { LockNotice, UnfinishedRotationNotice } from '@/components/operations/lock-notice';
import { OperationFrame, StartOperation } from '@/components/operations/operation-page';
import { confirmFormContext, signInAgainPath } from '@/lib/actions/confirm-form-context';
import { rollbackRotationAction } from '@/lib/actions/rollback-rotation';
import { startRotationAction } from '@/lib/actions/start-rotation';
import { getOperationState } from '@/lib/operations';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';
import { getRotation, ROTATION_STEPS, type RotationView } from '@/lib/rotation';
import { NextScheduledRotation } from '@/components/history/next-scheduled-rotation';
import { getScheduledRotation } from '@/lib/watcher';

type Params = Promise<{ name: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => `Rotate password · ${n}`, 'Rotate password') };
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
  const session = await pageSession(path);
  const env = environmentOrNotFound(name);
  const form = confirmFormContext(session);
  const [rotation, state] = env.kind === 'aws' ? await Promise.all([getRotation(session.caller, name), getOperationState(session.caller, name)]) : [null, null];
  const schedule = env.kind === 'aws' ? await getScheduledRotation(session.caller, name) : null;
  const inProgress = rotation?.state === 'running' || rotation?.state === 'rolling-back';
  // A lock held by another operation (a redeploy), or by a rotation whose page we are not showing.
  const otherWork = state?.lock && !(inProgress && state.lock.operation === 'rotation') ? state.lock : null;
  // The rotation shown below is the stuck one; its own section offers the way out.
  const stuck = state?.unfinishedRotation && state.unfinishedRotation.id !== rotation?.id ? state.unfinishedRotation : null;

  return (
    <OperationFrame
      environment={name}
      crumb="Rotate password"
      title={`Rotate the database password of ${name}`}
      local={env.kind === 'aws' ? null : `${name} is a local environment: its password is the docker-compose default, with no SSM parameter or RDS instance to rotate.`}
      plan={
        <>
          <p className="mt-1 text-sm text-slate-700">
            The console changes LinkBox&apos;s master password in an order where no password is ever lost and the backends keep
            serving: the new password is stored in SSM as <em>pending</em> before RDS is changed, it is promoted to{' '}
            <code className="font-mono">db-password</code> only after a login with it succeeded, and the containers are restarted one
            at a time, each answering <code className="font-mono">/health</code> before the next. Until the promotion, a failed
            rotation can be rolled back to the current password.
          </p>
          <ol className="mt-2 list-decimal pl-6 text-sm text-slate-700">
            {ROTATION_STEPS.map((s) => (
              <li key={s.name}>{s.label}</li>
            ))}
          </ol>
        </>
      }
    >
      {otherWork && <LockNotice environment={name} lock={otherWork} />}
      {stuck && <UnfinishedRotationNotice environment={name} reason={stuck.reason} />}

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
            className={`mt-2 text-sm font-semibold ${rotation.state === 'completed' ? 'text-emerald-800' : rotation.state === 'failed' ? 'text-red-800' : 'text-slate-900'}`}
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
                Sets the RDS master password back to the current <code className="font-mono">db-password</code> in SSM and removes the
                pending one. The backends keep the password they have.
              </p>
              <div className="mt-2">
                <ConfirmActionForm action={rollbackRotationAction} environment={name} submitLabel="Roll back rotation" tone="neutral" />
              </div>
            </section>
          )}
        </section>
      )}

      {!inProgress && !otherWork && !state?.unfinishedRotation && (
        <StartOperation
          environment={name}
          heading="Start a rotation"
          submitLabel="Start rotation"
          gerund="Rotating"
          infinitive="rotate the password"
          role={session.caller.role}
          form={form}
          action={startRotationAction}
          signInAgainHref={signInAgainPath(path)}
        />
      )}
      {env.kind === 'aws' && <NextScheduledRotation schedule={schedule} />}
    </OperationFrame>
  );
}
