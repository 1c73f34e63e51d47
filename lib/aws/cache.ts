import { LRUCache } from 'lru-cache';
import { processWide } from '@/lib/process-wide';

// The one cache of the console (lru-cache): a value per key lives its TTL, concurrent callers of a
// key share one in-flight load (single-flight, also for `fresh`), and the least recently used keys
// are evicted, so keys that name an instance set or a password version cannot pile up.

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
  /** Keep the last good value past its TTL for `lastGoodValue` (staleOnError implies it), without serving it on error. */
  remember?: boolean;
}

interface Load {
  load: () => Promise<unknown>;
  ttlMs: number;
}

/** Far above what the configured environments need; a bound, not a budget. */
const MAX_ENTRIES = 5000;

/** Keys whose load is in flight (lru-cache lists only settled keys). */
const loading = processWide('aws.cache.loading', () => new Set<string>());

// One cache per process, not per bundle: the page and the status API must share what they fetched.
const cache = processWide(
  'aws.cache',
  () =>
    new LRUCache<string, CachedValue<unknown>, Load>({
      max: MAX_ENTRIES,
      // Ages on the wall clock, as `fetchedAt` does, read afresh each time.
      perf: { now: () => Date.now() },
      ttlResolution: 0,
      async fetchMethod(key, _previous, { options, context }) {
        const startedAt = Date.now();
        options.ttl = Math.max(1, context.ttlMs);
        loading.add(key);
        try {
          return { value: await context.load(), fetchedAt: startedAt };
        } finally {
          loading.delete(key);
        }
      },
    }),
);

// The last good value of each key read with staleOnError or remember, kept past its TTL: for when a
// refresh fails, or to start work on a good guess while the refresh runs.
const lastGood = processWide('aws.cache.lastGood', () => new LRUCache<string, CachedValue<unknown>>({ max: MAX_ENTRIES }));

export async function cached<T>(key: string, ttlMs: number, load: () => Promise<T>, opts: CacheOptions = {}): Promise<CachedValue<T>> {
  let entry: CachedValue<unknown> | undefined;
  try {
    entry = await cache.fetch(key, { forceRefresh: opts.fresh ?? false, allowStale: false, context: { load, ttlMs } });
  } catch (err) {
    const previous = opts.staleOnError ? lastGood.get(key) : undefined;
    if (!previous) throw err;
    return { value: previous.value as T, fetchedAt: previous.fetchedAt, stale: true, staleReason: reasonOf(err) };
  }
  if ((opts.staleOnError || opts.remember) && entry) lastGood.set(key, entry);
  // A TTL of 0 shares a load in flight and keeps nothing.
  if (ttlMs <= 0) cache.delete(key);
  return entry as CachedValue<T>;
}

/** Stores a value read by a call made for another purpose (one Run Command answering two questions). */
export function primeCache<T>(key: string, value: T, fetchedAt: number, ttlMs: number): void {
  cache.set(key, { value, fetchedAt }, { ttl: Math.max(1, ttlMs - (Date.now() - fetchedAt)) });
}

/** The last good value of a key read with `remember` or `staleOnError`, however old; nothing is loaded. */
export function lastGoodValue<T>(key: string): CachedValue<T> | undefined {
  return lastGood.get(key) as CachedValue<T> | undefined;
}

/** The cached value of `key` while it is fresh, without loading anything. */
export function peekCache<T>(key: string): CachedValue<T> | undefined {
  return cache.get(key) as CachedValue<T> | undefined;
}

/**
 * Drops what is cached under keys that start with `prefix`, after a write that changes what we show.
 * A load in flight is dropped too: it started before the write, so nobody joins it any more.
 */
export function invalidateCache(prefix = ''): void {
  for (const key of [...cache.keys(), ...loading]) if (key.startsWith(prefix)) cache.delete(key);
  for (const key of [...lastGood.keys()]) if (key.startsWith(prefix)) lastGood.delete(key);
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
