import 'server-only';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { processWide } from '@/lib/process-wide';
import type { CallOptions } from './clients';
import { awsScope } from './scope';

// Environments in one AWS scope (region, endpoint, credentials) share calls: the requests one API
// gets for that scope within one tick (the watcher and the home page start every environment's
// status at once, and what follows a shared answer follows it at once too) go out as one call, or
// as few as the API's limit allows, and each requester gets its own share of the answers, never
// another's. This sits below the readers' cache: entries stay per environment, only the calls merge.
// When a call fails, each requester in it is asked again alone, so an environment whose resource is
// denied, missing or invalid fails alone, with its own error.
// Add an API: a BatchedApi next to the function that used to make the call, and route the call here.

export interface BatchedApi<Q, R, A> {
  /** "service:Action": requests to different APIs never share a call. */
  name: string;
  /** Requests of one API that cannot share a call differ here (decrypted or not, another command). */
  variant?(request: Q): string;
  /** The most units one call may carry (GetParameters: 10 names; SendCommand: 50 instances). */
  limit: number;
  /** What a request asks for, in the units the limit counts; a unit two requesters share is asked once. */
  units(request: Q): string[];
  /**
   * One call for these units (at most `limit`), made with the scope's clients: `env` is any
   * requester's environment of that scope. `requests` are those whose units the call carries.
   */
  send(env: AwsEnvironmentConfig, units: string[], requests: Q[], opts: CallOptions): Promise<R>;
  /** A requester's answer from the answers of the calls that carried its units: only what it asked for. */
  answer(request: Q, answers: R[]): A;
}

interface Waiting<Q> {
  request: Q;
  units: string[];
  signal?: AbortSignal;
  resolve(value: unknown): void;
  reject(reason: unknown): void;
}

interface Pending<Q> {
  env: AwsEnvironmentConfig;
  api: BatchedApi<Q, unknown, unknown>;
  waiting: Waiting<Q>[];
}

const pending = processWide('aws.batch.pending', () => new Map<string, Pending<unknown>>());

/**
 * Makes `request` with the others of its scope and API made in the same tick. `opts.signal` ends
 * this requester's wait; the call itself is cancelled only when every requester in it has gone.
 */
export function batched<Q, R, A>(env: AwsEnvironmentConfig, api: BatchedApi<Q, R, A>, request: Q, opts: CallOptions = {}): Promise<A> {
  const units = [...new Set(api.units(request))];
  if (units.length === 0) return Promise.resolve(api.answer(request, []));
  if (opts.signal?.aborted) return Promise.reject(abortReason(opts.signal));
  const key = JSON.stringify([api.name, api.variant?.(request) ?? '', awsScope(env)]);
  let batch = pending.get(key) as Pending<Q> | undefined;
  if (!batch) {
    const created: Pending<Q> = { env, api: api as BatchedApi<Q, unknown, unknown>, waiting: [] };
    pending.set(key, created as Pending<unknown>);
    // One macrotask: every request made before the event loop turns shares the call.
    setImmediate(() => {
      if (pending.get(key) === created) pending.delete(key);
      void flush(created);
    });
    batch = created;
  }
  const joined = batch;
  return new Promise<A>((resolve, reject) => {
    const signal = opts.signal;
    const onAbort = () => reject(abortReason(signal!));
    const settle = <T>(done: (v: T) => void) => (v: T) => {
      signal?.removeEventListener('abort', onAbort);
      done(v);
    };
    joined.waiting.push({ request, units, signal, resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

async function flush<Q>(batch: Pending<Q>): Promise<void> {
  const { env, api } = batch;
  const waiting = batch.waiting.filter((w) => !w.signal?.aborted);
  const calls = pack(waiting, api.limit);
  const settled = await Promise.all(
    calls.map(async (call) => {
      const cancel = whenAllAborted(call.requesters.map((w) => w.signal));
      try {
        return { ok: true as const, value: await api.send(env, call.units, call.requesters.map((w) => w.request), { signal: cancel.signal }) };
      } catch (error) {
        return { ok: false as const, error };
      } finally {
        cancel.release();
      }
    }),
  );
  await Promise.all(
    waiting.map(async (w) => {
      const mine = calls.flatMap((call, i) => (call.requesters.includes(w) ? [i] : []));
      const failed = mine.find((i) => !settled[i]!.ok);
      try {
        if (failed === undefined) {
          w.resolve(api.answer(w.request, mine.map((i) => (settled[i] as { value: unknown }).value)));
          return;
        }
        // A call that carried only this requester's units would fail the same way again: its error is the answer.
        const alone = mine.every((i) => calls[i]!.requesters.length === 1);
        if (alone) throw (settled[failed] as { error: unknown }).error;
        w.resolve(await askAlone(env, api, w));
      } catch (err) {
        w.reject(err);
      }
    }),
  );
}

/** The requester's own units in calls of their own, with its own signal: its own answer or its own error. */
async function askAlone<Q>(env: AwsEnvironmentConfig, api: BatchedApi<Q, unknown, unknown>, w: Waiting<Q>): Promise<unknown> {
  const answers: unknown[] = [];
  for (let i = 0; i < w.units.length; i += api.limit) answers.push(await api.send(env, w.units.slice(i, i + api.limit), [w.request], { signal: w.signal }));
  return api.answer(w.request, answers);
}

/** Units in the requesters' order, each once, cut into calls of at most `limit`; a requester's units may span two calls. */
function pack<Q>(waiting: Waiting<Q>[], limit: number): Array<{ units: string[]; requesters: Waiting<Q>[] }> {
  const units = [...new Set(waiting.flatMap((w) => w.units))];
  const calls: Array<{ units: string[]; requesters: Waiting<Q>[] }> = [];
  for (let i = 0; i < units.length; i += limit) {
    const chunk = units.slice(i, i + limit);
    const inChunk = new Set(chunk);
    calls.push({ units: chunk, requesters: waiting.filter((w) => w.units.some((u) => inChunk.has(u))) });
  }
  return calls;
}

/** A signal that aborts once every requester's has (never, while one of them waits without a signal). */
function whenAllAborted(signals: Array<AbortSignal | undefined>): { signal?: AbortSignal; release(): void } {
  if (signals.some((s) => !s)) return { release: () => undefined };
  const controller = new AbortController();
  const live = signals as AbortSignal[];
  const check = () => {
    if (live.every((s) => s.aborted)) controller.abort(live[0]!.reason);
  };
  for (const s of live) s.addEventListener('abort', check, { once: true });
  check();
  return { signal: controller.signal, release: () => live.forEach((s) => s.removeEventListener('abort', check)) };
}

function abortReason(signal: AbortSignal): unknown {
  if (signal.reason instanceof Error) return signal.reason;
  const err = new Error('Request aborted');
  err.name = 'AbortError';
  return err;
}
