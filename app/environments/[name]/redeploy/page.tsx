import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound, redirect } from 'next/navigation';
import { ConfirmActionForm } from '@/components/rotation/confirm-action-form';
import { InstanceList } from '@/components/rotation/instance-list';
import { LiveRefresh } from '@/components/rotation/live-refresh';
import { dateTime } from '@/components/rotation/time';
import { confirmFormContext, signInAgainPath } from '@/lib/actions/confirm-form-context';
import { restartContainersAction } from '@/lib/actions/restart-containers';
import { getSessionInfo, signInPath } from '@/lib/auth/session';
import { getConfig } from '@/lib/config/load';
import { getRedeploy, type RedeployView } from '@/lib/deploy';
import { getRotation } from '@/lib/rotation';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';
import { LockNotice } from '@/components/rotation/lock-notice';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';

type Params = Promise<{ name: string }>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: ENVIRONMENT_NAME_PATTERN.test(name) ? `Restart containers · ${name}` : 'Restart containers' };
}

const STATE_TEXT: Record<RedeployView['state'], string> = {
  running: 'Restarting',
  completed: 'Restart complete',
  failed: 'Restart stopped',
};

export default async function RedeployPage({ params }: { params: Params }) {
  const { name } = await params;
  const path = `/environments/${encodeURIComponent(name)}/redeploy`;
  const session = await getSessionInfo();
  if (!session) redirect(signInPath(path));
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) notFound();
  const env = getConfig().environments.find((e) => e.name === name);
  if (!env) notFound();

  const { caller } = session;
  const form = confirmFormContext(session);
  const [redeploy, rotation] = env.kind === 'aws' ? await Promise.all([getRedeploy(caller, name), getRotation(caller, name)]) : [null, null];
  const running = redeploy?.state === 'running';
  // The lock is per environment: a rotation (or a redeploy started elsewhere) blocks a new restart.
  const lock = rotation?.lock ?? null;
  const blockedBy = lock && !(running && lock.operation === 'redeploy') ? lock : null;

  return (
    <main className="mx-auto max-w-4xl px-3 py-4">
      <Breadcrumb trail={environmentTrail(name, { label: 'Restart containers' })} />
      <h1 className="text-xl font-bold text-slate-900">Restart the backend containers of {name}</h1>

      {env.kind !== 'aws' ? (
        <p className="mt-3 text-sm text-slate-700">{name} is a local environment: restart its backend with docker-compose on that machine.</p>
      ) : (
        <>
          <section aria-labelledby="plan" className="mt-3 rounded border border-slate-200 bg-white p-3">
            <h2 id="plan" className="text-sm font-semibold text-slate-900">
              What will happen
            </h2>
            <p className="mt-1 text-sm text-slate-700">
              One instance at a time, the console runs the deploy&apos;s <code className="font-mono">stop_application.sh</code> and{' '}
              <code className="font-mono">start_application.sh</code> through Run Command, so the container reads the four SSM
              parameters afresh, then waits for the command to succeed and for <code className="font-mono">/health</code> to
              answer 200 before it moves to the next instance. It stops at the first instance that does not come back and says
              which one and why; the others keep running. With an image tag, each instance starts that image instead.
            </p>
          </section>

          {blockedBy && <LockNotice environment={name} lock={blockedBy} />}

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
                className={`mt-2 text-sm font-semibold ${
                  redeploy.state === 'completed' ? 'text-emerald-800' : redeploy.state === 'failed' ? 'text-red-800' : 'text-slate-900'
                }`}
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

          {!running && !blockedBy && (
            <section aria-labelledby="start" className="mt-4 rounded border border-red-200 bg-white p-3">
              <h2 id="start" className="text-base font-semibold text-slate-900">
                Restart containers
              </h2>
              {form.canOperate ? (
                <>
                  {form.signInTooOld && (
                    <p role="status" className="mt-1 text-sm text-amber-900">
                      Restarting needs a sign-in from the last 15 minutes.{' '}
                      <Link href={signInAgainPath(path)} className="font-semibold underline">
                        Sign in again
                      </Link>{' '}
                      first.
                    </p>
                  )}
                  <div className="mt-2">
                    <ConfirmActionForm action={restartContainersAction} environment={name} submitLabel="Restart containers" askPassword={form.askPassword} askImageTag />
                  </div>
                </>
              ) : (
                <p className="mt-1 text-sm text-slate-700">Only operators and admins can restart containers. You are signed in as {caller.role}.</p>
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
