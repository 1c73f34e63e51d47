import type { CheckId, OverallStatus } from '@/lib/checks/types';

// Flap damping: what the webhooks are told. A state (the overall state, and for a broken
// environment its root cause) is announced once it has been seen by `announceAfter` looks in a row
// and differs from the state announced last. The first state ever seen is announced unless it is
// healthy: a console that starts next to a healthy environment has nothing to say (and at once
// takes "healthy" as what was last said). Pure; the
// watcher keeps `Seen` in the store, so a new leader goes on where the old one stopped.

/** "healthy", "degraded", "unknown", or "broken:<root cause>". */
export type Signature = string;

export interface Seen {
  observed: Signature;
  /** How many looks in a row saw `observed`. */
  count: number;
  announced: Signature | null;
}

export interface Announcement {
  from: Signature | null;
  to: Signature;
}

export function signatureOf(overall: OverallStatus, rootCause: CheckId | null): Signature {
  return overall === 'broken' && rootCause ? `broken:${rootCause}` : overall;
}

export function parseSignature(signature: Signature): { state: OverallStatus; rootCause: CheckId | null } {
  const [state, rootCause] = signature.split(':') as [OverallStatus, CheckId | undefined];
  return { state, rootCause: rootCause ?? null };
}

export function afterLook(previous: Seen | null, seen: Signature, announceAfter: number): { next: Seen; announce: Announcement | null } {
  const count = previous?.observed === seen ? previous.count + 1 : 1;
  const announced = previous?.announced ?? null;
  const next: Seen = { observed: seen, count, announced };
  if (announced === null && seen === 'healthy') {
    // Nothing to say, but from now on a change away from healthy is one.
    next.announced = seen;
    return { next, announce: null };
  }
  if (count < announceAfter || seen === announced) return { next, announce: null };
  next.announced = seen;
  return { next, announce: { from: announced, to: seen } };
}
