import { describe, expect, it } from 'vitest';
import type { LocalCheckContext } from '@/lib/checks/context';
import { checkDependencies, dependencyOrder, overallOf, rootCauseOf, runChecks, type CheckDefinition } from '@/lib/checks/run';
import { CHECK_IDS, type CheckId, type CheckResult, type CheckStatus } from '@/lib/checks/types';

const r = (id: CheckId, status: CheckStatus): CheckResult => ({ id, status, summary: '', evidence: {} });

describe('the dependency order', () => {
  it('lists every check after the checks it depends on', () => {
    const order = dependencyOrder();
    expect([...order].sort()).toEqual([...CHECK_IDS].sort());
    for (const id of CHECK_IDS) {
      for (const dep of checkDependencies(id)) expect(order.indexOf(dep), `${dep} before ${id}`).toBeLessThan(order.indexOf(id));
    }
  });

  it('has db.login after net.tcp and ssm.parameters, and net.tcp after rds.status', () => {
    expect(checkDependencies('db.login')).toEqual(expect.arrayContaining(['net.tcp', 'ssm.parameters']));
    expect(checkDependencies('net.tcp')).toContain('rds.status');
    expect(checkDependencies('rds.endpoint-match')).toEqual(expect.arrayContaining(['ssm.parameters', 'rds.status']));
    expect(checkDependencies('containers.health')).toContain('containers.running');
  });
});

describe('rootCauseOf', () => {
  it('names the first failing check in dependency order, whatever the list order', () => {
    expect(rootCauseOf([r('db.login', 'fail'), r('sg.backend-ingress', 'fail'), r('ssm.parameters', 'pass')])).toBe('sg.backend-ingress');
  });

  it('never names a warn, skip or error', () => {
    expect(rootCauseOf([r('ssm.password-age', 'warn'), r('rds.status', 'error'), r('net.tcp', 'skip')])).toBeNull();
  });
});

describe('overallOf', () => {
  it('is broken with any fail, degraded with a warn or error, healthy otherwise, unknown when all error', () => {
    expect(overallOf([r('rds.status', 'fail'), r('net.tcp', 'error')])).toBe('broken');
    expect(overallOf([r('rds.status', 'pass'), r('net.tcp', 'error')])).toBe('degraded');
    expect(overallOf([r('rds.status', 'pass'), r('ssm.password-age', 'warn')])).toBe('degraded');
    expect(overallOf([r('rds.status', 'pass'), r('net.tcp', 'skip')])).toBe('healthy');
    expect(overallOf([r('rds.status', 'error'), r('net.tcp', 'error')])).toBe('unknown');
  });
});

describe('runChecks', () => {
  const ctx: LocalCheckContext = {
    kind: 'local',
    env: { name: 'local', kind: 'local', defaultDatabaseUrl: '', backendUrl: 'http://x', healthPath: '/health' },
    budgetMs: 200,
    ttlMs: 0,
    fresh: false,
    beginRun: () => () => undefined,
  };
  const def = (id: CheckId, run: (signal: AbortSignal) => Promise<Omit<CheckResult, 'id'>>): CheckDefinition<LocalCheckContext> => ({
    id,
    kinds: ['local'],
    run: (_ctx, signal) => run(signal),
  });
  const all = (defs: CheckDefinition<LocalCheckContext>[], opts: { signal?: AbortSignal } = {}) => runChecks(defs, ctx, { dependencies: checkDependencies, ...opts }).all;

  it('skips a check whose dependency failed, and runs one whose dependency could not be checked', async () => {
    const results = await all(
      [
        def('rds.status', async () => ({ status: 'fail', summary: 'stopped', evidence: {} })),
        def('net.tcp', async () => ({ status: 'pass', summary: '', evidence: {} })),
        def('ssm.parameters', async () => ({ status: 'error', summary: 'denied', evidence: {} })),
        def('db.login', async () => ({ status: 'pass', summary: '', evidence: {} })),
        def('ssm.password-type', async () => ({ status: 'pass', summary: '', evidence: {} })),
      ],
    );
    const by = Object.fromEntries(results.map((x) => [x.id, x]));
    expect(by['net.tcp']!.status).toBe('skip');
    expect(by['db.login']!.status).toBe('skip');
    expect(by['db.login']!.summary).toContain('net.tcp was skipped');
    expect(by['ssm.password-type']!.status).toBe('pass');
    expect(by['ssm.password-type']!.evidence.unverifiedDependencies).toBe('ssm.parameters');
  });

  it('turns an exception out of a check into error, never fail', async () => {
    const [res] = await all([def('rds.status', async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })))]);
    expect(res).toMatchObject({ status: 'error', evidence: { reason: 'throttled' } });
  });

  it('turns a check that outlives its budget into error, and aborts what the check started', async () => {
    let seen: AbortSignal | undefined;
    const [res] = await all([def('rds.status', (signal) => ((seen = signal), new Promise(() => {})))]);
    expect(res).toMatchObject({ status: 'error', evidence: { reason: 'timeout', budgetMs: 200 } });
    expect(seen?.aborted).toBe(true);
  });

  it('hands out each result as it settles: a slow check does not hold back a fast one', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    const run = runChecks(
      [
        def('rds.status', async () => ({ status: 'pass', summary: 'fast', evidence: {} })),
        def('sg.backend-ingress', async () => (await slow, { status: 'pass', summary: 'slow', evidence: {} })),
      ],
      ctx,
      { dependencies: checkDependencies },
    );
    expect(await run.results.get('rds.status')).toMatchObject({ summary: 'fast' });
    let slowSettled = false;
    void run.results.get('sg.backend-ingress')!.then(() => (slowSettled = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(slowSettled).toBe(false);
    release();
    expect(await run.results.get('sg.backend-ingress')).toMatchObject({ summary: 'slow' });
  });

  it('cancels what is still running when the run is cancelled, and says so rather than judging', async () => {
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const pending = all([def('rds.status', (signal) => ((seen = signal), new Promise(() => {})))], { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 10));
    expect(seen?.aborted).toBe(false);
    controller.abort(new Error('the diagnosis had its answer'));
    const [res] = await pending;
    expect(res).toMatchObject({ status: 'error', summary: 'Not finished: the diagnosis had its answer', evidence: { reason: 'cancelled' } });
    expect(seen?.aborted).toBe(true);
  });

  it('waits for dependencies settled elsewhere (a diagnosis step after the status checks)', async () => {
    const given = new Map([['net.tcp', Promise.resolve<CheckResult<string>>({ id: 'net.tcp', status: 'fail', summary: '', evidence: {} })]]);
    const run = runChecks([def('db.login', async () => ({ status: 'pass', summary: '', evidence: {} }))], ctx, { dependencies: checkDependencies, given });
    expect(await run.results.get('db.login')).toMatchObject({ status: 'skip', evidence: { blockedBy: 'net.tcp' } });
  });

  it('runs only the checks of the environment kind', async () => {
    const aws: CheckDefinition<LocalCheckContext> = { id: 'rds.status', kinds: ['aws'] as unknown as ['local'], run: async () => ({ status: 'pass', summary: '', evidence: {} }) };
    expect(await all([aws])).toEqual([]);
  });
});
