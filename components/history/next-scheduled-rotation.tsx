import { dateTime } from '@/components/rotation/time';
import type { ScheduledRotationView } from '@/lib/watcher';

// The rotate page's note on the schedule: the policy, and when the watcher will rotate next.
export function NextScheduledRotation({ schedule }: { schedule: ScheduledRotationView | null }) {
  return (
    <section aria-labelledby="schedule" className="mt-4 rounded border border-slate-200 bg-white px-3 py-2">
      <h2 id="schedule" className="text-sm font-semibold text-slate-900">
        Scheduled rotation
      </h2>
      {schedule ? (
        <>
          <p className="mt-1 text-sm text-slate-700">The console rotates this password itself {schedule.policy}, when the environment is healthy.</p>
          <p className="mt-1 text-sm text-slate-900" data-next-rotation={schedule.nextAt ?? ''}>
            Next scheduled rotation: <strong>{schedule.nextAt ? dateTime(schedule.nextAt) : 'once the watcher has read the password’s age'}</strong>
            {schedule.lastAttemptAt && <span className="text-slate-600"> (last attempt {dateTime(schedule.lastAttemptAt)})</span>}
          </p>
        </>
      ) : (
        <p className="mt-1 text-sm text-slate-700">
          None: this environment has no <code className="font-mono">rotationSchedule</code> in the console config, so its password is rotated only from this page.
        </p>
      )}
    </section>
  );
}
