import { dateTime } from './time';

// Shown when another operation holds the environment's lock: one rotation or redeploy at a time.

export function LockNotice({ environment, lock }: { environment: string; lock: { operation: string; by: string; since: string } }) {
  return (
    <p role="status" className="mt-3 rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-950">
      A {lock.operation} of {environment} by <strong>{lock.by}</strong> has been running since {dateTime(lock.since)}. One
      operation per environment at a time: wait for it to finish.
    </p>
  );
}
