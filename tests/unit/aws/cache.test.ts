import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cached, invalidateCache } from '@/lib/aws/cache';

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('the cache', () => {
  beforeEach(() => {
    invalidateCache();
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('serves a value without loading again within the TTL, and loads again after it', async () => {
    const load = vi.fn(async () => 'v');
    await cached('k', 15_000, load);
    vi.advanceTimersByTime(15_000);
    await cached('k', 15_000, load);
    expect(load).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1);
    await cached('k', 15_000, load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('gives concurrent callers of one key a single load', async () => {
    const gate = deferred<string>();
    const load = vi.fn(() => gate.promise);
    const callers = Array.from({ length: 20 }, () => cached('k', 15_000, load));
    gate.resolve('shared');
    const results = await Promise.all(callers);
    expect(load).toHaveBeenCalledTimes(1);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(['shared']));
  });

  it('with fresh skips the cached value but joins a load already in flight', async () => {
    const load = vi.fn(async () => 'first');
    await cached('k', 15_000, load);
    const gate = deferred<string>();
    const reload = vi.fn(() => gate.promise);
    const a = cached('k', 15_000, reload, { fresh: true });
    const b = cached('k', 15_000, reload, { fresh: true });
    gate.resolve('second');
    expect((await a).value).toBe('second');
    expect((await b).value).toBe('second');
    expect(reload).toHaveBeenCalledTimes(1);
  });

  it('does not cache a failed load: the next caller tries again', async () => {
    const load = vi.fn().mockRejectedValueOnce(new Error('throttled')).mockResolvedValueOnce('ok');
    await expect(cached('k', 15_000, load)).rejects.toThrow('throttled');
    expect((await cached('k', 15_000, load)).value).toBe('ok');
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('serves the older value marked stale when a refresh fails and staleOnError is set', async () => {
    // A key read with staleOnError keeps its last good value past the TTL, for this moment.
    await cached('k', 15_000, async () => 'old', { staleOnError: true });
    const fetchedAt = Date.now();
    vi.advanceTimersByTime(20_000);
    const r = await cached('k', 15_000, async () => Promise.reject(new Error('AWS throttled')), { staleOnError: true });
    expect(r).toEqual({ value: 'old', fetchedAt, stale: true, staleReason: 'AWS throttled' });
    // Served, not kept: the next caller asks again.
    const again = vi.fn(async () => 'new');
    expect((await cached('k', 15_000, again)).value).toBe('new');
    expect(again).toHaveBeenCalledTimes(1);
  });

  it('evicts the least recently used keys instead of growing without bound', async () => {
    for (let i = 0; i < 6000; i++) await cached(`k${i}`, 15_000, async () => i);
    const first = vi.fn(async () => -1);
    expect((await cached('k0', 15_000, first)).value).toBe(-1);
    expect(first).toHaveBeenCalledTimes(1);
  });

  it('keeps keys apart', async () => {
    const a = await cached('a', 15_000, async () => 1);
    const b = await cached('b', 15_000, async () => 2);
    expect([a.value, b.value]).toEqual([1, 2]);
  });

  it('with a TTL of 0 loads every time but still shares a load in flight', async () => {
    const gate = deferred<number>();
    const load = vi.fn(() => gate.promise);
    const both = Promise.all([cached('k', 0, load), cached('k', 0, load)]);
    gate.resolve(1);
    await both;
    expect(load).toHaveBeenCalledTimes(1);
    await cached('k', 0, async () => 2);
    expect((await cached('k', 0, async () => 3)).value).toBe(3);
  });
});
