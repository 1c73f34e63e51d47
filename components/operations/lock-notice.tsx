import Link from 'next/link';
import { dateTime } from '@/components/rotation/time';

// Shown when something else keeps a new operation out: another operation holds the environment's
// lock, or a rotation stopped half-way (one dangerous operation per environment, stuck or not).

export function LockNotice({ environment, lock }: { environment: string; lock: { operation: string; by: string; since: string } }) {
  return (
    <p role="status" className="mt-3 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
      A {lock.operation} of {environment} by <strong>{lock.by}</strong> has been running since {dateTime(lock.since)}. One
      operation per environment at a time: wait for it to finish.
    </p>
  );
}

export function UnfinishedRotationNotice({ environment, reason }: { environment: string; reason: string }) {
  return (
    <p role="status" className="mt-3 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
      Nothing new can start on {environment}: {reason}.{' '}
      <Link href={`/environments/${encodeURIComponent(environment)}/rotate`} className="font-semibold underline">
        Open the rotation
      </Link>{' '}
      to resume or roll it back.
    </p>
  );
}
