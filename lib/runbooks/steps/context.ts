import 'server-only';
import { setMaxListeners } from 'node:events';
import { describeAwsError } from '@/lib/aws/errors';
import type { AwsCheckContext, LocalCheckContext } from '@/lib/checks/context';
import type { CheckFix, CheckStatus, Evidence } from '@/lib/checks/types';

// What a runbook-only step gets and gives back. The runner time-boxes every step and turns any
// throw into `error` ("could not check"), so a step only decides verdicts it actually observed.

type Reads = AwsCheckContext | LocalCheckContext;

export interface StepContext<R extends Reads = Reads> {
  env: R['env'];
  /** The status engine's readers for this run (memoised per run; container state shared across runs). */
  reads: R;
  /** Bypass the shared cache (the diagnosis's `?fresh=1`). */
  fresh: boolean;
  /** Cache lifetime for plain AWS reads, from the config. */
  ttlMs: number;
  /** The step's time budget; aborted when it runs out. */
  budgetMs: number;
  signal: AbortSignal;
}

export interface StepOutcome {
  status: CheckStatus;
  summary: string;
  evidence: Evidence;
  fix?: CheckFix;
}

export type StepRunner<R extends Reads = Reads> = (ctx: StepContext<R>) => Promise<StepOutcome>;

export class StepTimeoutError extends Error {
  constructor(readonly budgetMs: number) {
    super(`no answer within ${budgetMs} ms`);
    this.name = 'TimeoutError';
  }
}

/** Runs a step within its budget; a throw or a timeout is `error`, with the reason and no secret. */
export async function runWithinBudget<R extends Reads>(
  run: StepRunner<R>,
  base: Omit<StepContext<R>, 'signal'>,
): Promise<StepOutcome & { durationMs: number }> {
  const started = Date.now();
  const controller = new AbortController();
  // Every SDK call and pause of the step listens on this one signal; a Run Command poll makes a dozen.
  setMaxListeners(64, controller.signal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new StepTimeoutError(base.budgetMs);
      controller.abort(err);
      reject(err);
    }, base.budgetMs);
  });
  try {
    const outcome = await Promise.race([run({ ...base, signal: controller.signal }), timeout]);
    return { ...outcome, durationMs: Date.now() - started };
  } catch (err) {
    const described = err instanceof StepTimeoutError ? { kind: 'timeout', message: err.message } : describeAwsError(err);
    return {
      status: 'error',
      summary: `Could not check: ${described.message}`,
      evidence: { reason: described.kind },
      durationMs: Date.now() - started,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms`, or rejects as soon as the step is aborted, so polling never outlives its budget. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Quotes a value for the copyable shell commands in a fix (values come from AWS, still quoted). */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_./:=@,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** `--endpoint-url` for copyable commands when the environment is the lab or a VPC endpoint. */
export function endpointFlag(env: { endpoint?: string }): string {
  return env.endpoint ? ` --endpoint-url ${shellQuote(env.endpoint)}` : '';
}
