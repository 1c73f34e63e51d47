import { describe, expect, it } from 'vitest';
import type { LocalCheckContext } from '@/lib/checks/context';
import { checkDependencies, dependencyOrder, overallOf, rootCauseOf, runChecks, type CheckDefinition } from '@/lib/checks/run';
import { CHECK_IDS, type CheckId, type CheckResult, type CheckStatus } from '@/lib/checks/types';

const r = (id: CheckId, status: CheckStatus): CheckResult => ({ id, status, summary: '', evidence: {} });

describe('the dependency order', () => {
  it('lists every check after the checks it depends on', () => {
    const order = dependencyOrder();
    expect([...order].sort()).toEqual([...CHECK_IDS].sort());
    for (const [id, deps] of Object.entries(checkDependencies())) {
      for (const dep of deps) expect(order.indexOf(dep), `${dep} before ${id}`).toBeLessThan(order.indexOf(id as CheckId));
    }
  });

  it('has db.login after net.tcp and ssm.parameters, and net.tcp after rds.status', () => {
    const deps = checkDependencies();
    expect(deps['db.login']).toEqual(expect.arrayContaining(['net.tcp', 'ssm.parameters']));
    expect(deps['net.tcp']).toContain('rds.status');
    expect(deps['rds.endpoint-match']).toEqual(expect.arrayContaining(['ssm.parameters', 'rds.status']));
    expect(deps['containers.health']).toContain('containers.running');
  });

  it('hands out a copy: a caller cannot change the order', () => {
    checkDependencies()['db.login'].push('local.database-url');
    expect(checkDependencies()['db.login']).not.toContain('local.database-url');
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
  const ctx: LocalCheckContext = { kind: 'local', env: { name: 'local', kind: 'local', defaultDatabaseUrl: '', backendUrl: 'http://x', healthPath: '/health' }, budgetMs: 200, fresh: false };
  const def = (id: CheckId, run: () => Promise<Omit<CheckResult, 'id'>>): CheckDefinition<LocalCheckContext> => ({ id, kinds: ['local'], run });

  it('skips a check whose dependency failed, and runs one whose dependency could not be checked', async () => {
    const results = await runChecks(
      [
        def('rds.status', async () => ({ status: 'fail', summary: 'stopped', evidence: {} })),
        def('net.tcp', async () => ({ status: 'pass', summary: '', evidence: {} })),
        def('ssm.parameters', async () => ({ status: 'error', summary: 'denied', evidence: {} })),
        def('db.login', async () => ({ status: 'pass', summary: '', evidence: {} })),
        def('ssm.password-type', async () => ({ status: 'pass', summary: '', evidence: {} })),
      ],
      ctx,
    );
    const by = Object.fromEntries(results.map((x) => [x.id, x]));
    expect(by['net.tcp']!.status).toBe('skip');
    expect(by['db.login']!.status).toBe('skip');
    expect(by['db.login']!.summary).toContain('net.tcp was skipped');
    expect(by['ssm.password-type']!.status).toBe('pass');
    expect(by['ssm.password-type']!.evidence.unverifiedDependencies).toBe('ssm.parameters');
  });

  it('turns an exception out of a check into error, never fail', async () => {
    const [res] = await runChecks([def('rds.status', async () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' })))], ctx);
    expect(res).toMatchObject({ status: 'error', evidence: { reason: 'throttled' } });
  });

  it('turns a check that outlives its budget into error', async () => {
    const [res] = await runChecks([def('rds.status', () => new Promise(() => {}))], ctx);
    expect(res).toMatchObject({ status: 'error', evidence: { reason: 'timeout', budgetMs: 200 } });
  });

  it('runs only the checks of the environment kind', async () => {
    const aws: CheckDefinition<LocalCheckContext> = { id: 'rds.status', kinds: ['aws'] as unknown as ['local'], run: async () => ({ status: 'pass', summary: '', evidence: {} }) };
    expect(await runChecks([aws], ctx)).toEqual([]);
  });
});
