'use client';

import { getCsrfToken } from 'next-auth/react';
import { reloadAtSignIn } from './reload-at-sign-in';
import { useEffect } from 'react';

// The idle timeout counts from the last thing the operator did. A click or key press (at most once a
// minute) tells the server; background polling does not, so an abandoned status page still times out.

const THROTTLE_MS = 60_000;

export function ActivityTracker() {
  useEffect(() => {
    let last = 0;
    let inFlight = false;
    const ping = async () => {
      const now = Date.now();
      if (inFlight || now - last < THROTTLE_MS) return;
      last = now;
      inFlight = true;
      try {
        const csrfToken = await getCsrfToken();
        const res = await fetch('/api/auth/session', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ csrfToken, data: {} }),
        });
        const session = (await res.json().catch(() => null)) as { user?: unknown } | null;
        if (res.ok && !session?.user) {
          reloadAtSignIn('ended');
        }
      } catch {
        // Offline or restarting: the next interaction tries again.
        last = 0;
      } finally {
        inFlight = false;
      }
    };
    void ping();
    const events = ['pointerdown', 'keydown'] as const;
    events.forEach((e) => window.addEventListener(e, ping, { passive: true }));
    return () => events.forEach((e) => window.removeEventListener(e, ping));
  }, []);
  return null;
}
