import { sql } from 'kysely';
import { getConfig } from '@/lib/config/load';
import { getStore } from '@/lib/store';

// The load balancer's and the container's health check, and the one route without a caller: it says
// only whether this replica can serve — its environments file is valid and its store answers — so it
// makes no AWS call, reads no secret, and names neither the file's problem nor the store's address.

export const dynamic = 'force-dynamic';

/** A store that does not answer within this is not ready; the check runs every few seconds. */
const STORE_TIMEOUT_MS = 2000;

export async function GET(): Promise<Response> {
  const [config, store] = await Promise.all([configUsable(), storeUsable()]);
  const ready = config === 'ok' && store === 'ok';
  return Response.json({ status: ready ? 'ok' : 'unavailable', config, store }, { status: ready ? 200 : 503, headers: { 'Cache-Control': 'no-store' } });
}

async function configUsable(): Promise<'ok' | 'invalid'> {
  try {
    getConfig();
    return 'ok';
  } catch {
    return 'invalid';
  }
}

async function storeUsable(): Promise<'ok' | 'unreachable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unreachable'>((resolve) => (timer = setTimeout(() => resolve('unreachable'), STORE_TIMEOUT_MS)));
  const query = getStore()
    .then((store) => sql`select 1`.execute(store.db))
    .then(
      () => 'ok' as const,
      () => 'unreachable' as const,
    );
  try {
    return await Promise.race([query, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
