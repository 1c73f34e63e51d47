import { processWide } from '@/lib/process-wide';

// The one cache of the console: a value per key lives `ttlMs`; concurrent callers of a key share
// one in-flight load (single-flight), so many viewers opening a page cost one round of AWS calls.

export interface CachedValue<T> {
  value: T;
  /** When the load that produced `value` started (ms since epoch): the data is at least this fresh. */
  fetchedAt: number;
  /** Set when a refresh failed and an older value is served instead (only with `staleOnError`). */
  stale?: boolean;
  staleReason?: string;
}

export interface CacheOptions {
  /** Skip a cached value (still joins a load already in flight). */
  fresh?: boolean;
  /** When the load throws and an older value exists, serve that one marked stale instead of throwing. */
  staleOnError?: boolean;
}

interface Entry {
  value: unknown;
  fetchedAt: number;
  expiresAt: number;
}

// One cache per process, not per bundle: the page and the status API must share what they fetched.
const entries = processWide('cache.entries', () => new Map<string, Entry>());
const inflight = processWide('cache.inflight', () => new Map<string, Promise<CachedValue<unknown>>>());

export function cached<T>(key: string, ttlMs: number, load: () => Promise<T>, opts: CacheOptions = {}): Promise<CachedValue<T>> {
  const hit = entries.get(key);
  if (!opts.fresh && hit && Date.now() < hit.expiresAt) {
    return Promise.resolve({ value: hit.value as T, fetchedAt: hit.fetchedAt });
  }
  const running = inflight.get(key);
  if (running) return running as Promise<CachedValue<T>>;

  const loading = (async (): Promise<CachedValue<T>> => {
    const startedAt = Date.now();
    try {
      const value = await load();
      entries.set(key, { value, fetchedAt: startedAt, expiresAt: startedAt + ttlMs });
      return { value, fetchedAt: startedAt };
    } catch (err) {
      const previous = entries.get(key);
      if (opts.staleOnError && previous) {
        return { value: previous.value as T, fetchedAt: previous.fetchedAt, stale: true, staleReason: reasonOf(err) };
      }
      throw err;
    } finally {
      inflight.delete(key);
    }
  })();
  inflight.set(key, loading);
  return loading;
}

/** Drops every cached value (not loads in flight); for tests and after a write that changes what we show. */
export function invalidateCache(prefix = ''): void {
  for (const key of entries.keys()) if (key.startsWith(prefix)) entries.delete(key);
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
