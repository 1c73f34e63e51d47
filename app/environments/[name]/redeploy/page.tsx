import type { Metadata } from 'next';
import { InstanceList } from '@/components/rotation/instance-list';
import { LiveRefresh } from '@/components/rotation/live-refresh';
import { dateTime } from '@/components/rotation/time';
import { LockNotice, UnfinishedRotationNotice } from '@/components/operations/lock-notice';
import { OperationFrame, StartOperation } from '@/components/operations/operation-page';
import { confirmFormContext, signInAgainPath } from '@/lib/actions/confirm-form-context';
import { restartContainersAction } from '@/lib/actions/restart-containers';
import { getRedeploy, type RedeployView } from '@/lib/deploy';
import { getOperationState } from '@/lib/operations';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';

type Params = Promise<{ name: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => `Restart containers · ${n}`, 'Restart containers') };
}

const STATE_TEXT: Record<RedeployView['state'], string> = {
  running: 'Restarting',
  completed: 'Restart complete',
  failed: 'Restart stopped',
};

export default async function RedeployPage({ params }: { params: Params }) {
  const { name } = await params;
  const path = `/environments/${encodeURIComponent(name)}/redeploy`;
  const session = await pageSession(path);
  const env = environmentOrNotFound(name);
  const form = confirmFormContext(session);
  const [redeploy, state] = env.kind === 'aws' ? await Promise.all([getRedeploy(session.caller, name), getOperationState(session.caller, name)]) : [null, null];
  const running = redeploy?.state === 'running';
  // The lock is per environment: a rotation (or a redeploy started elsewhere) blocks a new restart.
  const blockedBy = state?.lock && !(running && state.lock.operation === 'redeploy') ? state.lock : null;

  return (
    <OperationFrame
      environment={name}
      crumb="Restart containers"
      title={`Restart the backend containers of ${name}`}
      local={env.kind === 'aws' ? null : `${name} is a local environment: restart its backend with docker-compose on that machine.`}
      plan={
        <p className="mt-1 text-sm text-slate-700">
          One instance at a time, the console runs the deploy&apos;s <code className="font-mono">stop_application.sh</code> and{' '}
          <code className="font-mono">start_application.sh</code> through Run Command, so the container reads the four SSM parameters
          afresh, then waits for the command to succeed and for <code className="font-mono">/health</code> to answer 200 before it
          moves to the next instance. It stops at the first instance that does not come back and says which one and why; the others
          keep running. With an image tag, each instance starts that image instead.
        </p>
      }
    >
      {blockedBy && <LockNotice environment={name} lock={blockedBy} />}
      {state?.unfinishedRotation && <UnfinishedRotationNotice environment={name} reason={state.unfinishedRotation.reason} />}

      {redeploy && (
        <section aria-labelledby="redeploy" className="mt-4" data-redeploy-id={redeploy.id} data-state={redeploy.state}>
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
            <h2 id="redeploy" className="text-base font-semibold text-slate-900">
              {running ? 'Restart in progress' : 'Last restart'}
            </h2>
            <LiveRefresh active={running} />
          </div>
          <p className="mt-1 text-sm text-slate-700">
            Started by <strong>{redeploy.by}</strong>
            {redeploy.role ? ` (${redeploy.role})` : ''} at {dateTime(redeploy.startedAt)}
            {redeploy.reason.startsWith('rotation') ? ' as part of a password rotation' : ''}
            {redeploy.imageTag ? `, onto image tag ${redeploy.imageTag}` : ''}
            {redeploy.finishedAt ? `; finished at ${dateTime(redeploy.finishedAt)}` : ''}.
          </p>
          <p
            role="status"
            className={`mt-2 text-sm font-semibold ${redeploy.state === 'completed' ? 'text-emerald-800' : redeploy.state === 'failed' ? 'text-red-800' : 'text-slate-900'}`}
          >
            {STATE_TEXT[redeploy.state]}
          </p>
          {redeploy.error && (
            <p role="alert" className="mt-1 rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-900">
              {redeploy.error}
            </p>
          )}
          <div className="mt-2">
            <InstanceList instances={redeploy.instances} />
          </div>
        </section>
      )}

      {!running && !blockedBy && !state?.unfinishedRotation && (
        <StartOperation
          environment={name}
          heading="Restart containers"
          submitLabel="Restart containers"
          gerund="Restarting"
          infinitive="restart containers"
          role={session.caller.role}
          form={form}
          action={restartContainersAction}
          signInAgainHref={signInAgainPath(path)}
          askImageTag
        />
      )}
    </OperationFrame>
  );
}
