import { describe, expect, it } from 'vitest';
import { CHECK_IDS, type CheckStatus } from '@/lib/checks/types';
import { certainRootCause, diagnoseFrom, diagnosisOrder } from '@/lib/runbooks/diagnosis';
import { RUNBOOK_STEP_DEFINITIONS, RUNBOOKS, checkOfStep, runbookForStep } from '@/lib/runbooks';
import { RUNBOOK_IDS, RUNBOOK_STEP_IDS, type RunbookId, type RunbookOnlyStepId, type StepId, type StepResult } from '@/lib/runbooks/types';

// How a diagnosis reads a set of step results: the first failure in dependency order is the root
// cause, named by its check id; "could not check" is never a root cause and makes the verdict unknown.

function step(id: StepId, status: CheckStatus, runbooks: RunbookId[] = ['could-not-connect']): StepResult & { runbooks: RunbookId[] } {
  return {
    id,
    title: id,
    check: checkOfStep(id),
    isStatusCheck: (CHECK_IDS as readonly string[]).includes(id),
    status,
    summary: `${id} ${status}`,
    evidence: {},
    meaning: '',
    runbooks,
  };
}

const diagnose = (steps: Array<StepResult & { runbooks: RunbookId[] }>, kind: 'aws' | 'local' = 'aws') =>
  diagnoseFrom('production', kind, '2026-11-27T12:00:00.000Z', steps);

describe('diagnosis', () => {
  it('names the first failing check in dependency order, not the first in the list', () => {
    const d = diagnose([step('db.login', 'fail'), step('containers.health', 'fail'), step('sg.backend-ingress', 'fail'), step('ssm.parameters', 'pass')]);
    expect(d.rootCause).toBe('sg.backend-ingress');
    expect(d.runbook).toBe('could-not-connect');
    expect(d.verdict).toBe('broken');
  });

  it('never names a step that could not be checked, and calls the result unknown rather than healthy', () => {
    const d = diagnose([step('ssm.parameters', 'error'), step('db.login', 'error'), step('rds.status', 'pass')]);
    expect(d.rootCause).toBeNull();
    expect(d.runbook).toBeNull();
    expect(d.verdict).toBe('unknown');
    expect(d.couldNotCheck).toEqual(['ssm.parameters', 'db.login']);
  });

  it('names a failure even when an earlier check could not be checked', () => {
    const d = diagnose([step('ssm.parameters', 'error'), step('containers.running', 'fail', ['container-unhealthy'])]);
    expect(d.rootCause).toBe('containers.running');
    expect(d.runbook).toBe('container-unhealthy');
  });

  it('reports a runbook-only failure as the check it refines, keeping the step that found it', () => {
    const d = diagnose([step('ssm.parameters', 'pass'), step('backend.role-permissions', 'fail'), step('containers.health', 'fail', ['container-unhealthy'])]);
    expect(d.rootCause).toBe('ssm.parameters');
    expect(d.rootCauseStep).toBe('backend.role-permissions');
    expect(d.runbook).toBe('could-not-connect');
  });

  it('prefers the status check over a runbook step that refines it when both fail', () => {
    const d = diagnose([step('backend.tcp', 'fail'), step('net.tcp', 'fail')]);
    expect(d.rootCauseStep).toBe('net.tcp');
  });

  it('puts the local steps before local.database-url, so the specific reason is the one named', () => {
    const d = diagnose(
      [step('local.database-url', 'fail', ['local-connection-refused']), step('local.listening', 'fail', ['local-connection-refused']), step('local.url-format', 'pass', ['local-connection-refused'])],
      'local',
    );
    expect(d.rootCause).toBe('local.database-url');
    expect(d.rootCauseStep).toBe('local.listening');
    expect(d.runbook).toBe('local-connection-refused');
  });

  it('is healthy when every step passes or warns', () => {
    const d = diagnose([step('ssm.password-age', 'warn'), step('rds.status', 'pass')]);
    expect(d).toMatchObject({ rootCause: null, verdict: 'healthy', couldNotCheck: [] });
  });

  it('is certain of a failure only once every step before it has answered without failing', () => {
    const order = diagnosisOrder(['containers.running', 'backend.role-permissions', 'sg.backend-ingress', 'rds.status', 'ssm.parameters']);
    const answered = new Map<StepId, { status: CheckStatus }>([['sg.backend-ingress', { status: 'fail' }]]);
    expect(certainRootCause(order, answered)).toBeUndefined();
    answered.set('ssm.parameters', { status: 'pass' });
    answered.set('rds.status', { status: 'error' });
    // The steps after it are still running: they cannot change the root cause.
    expect(certainRootCause(order, answered)).toBe('sg.backend-ingress');
    answered.set('rds.status', { status: 'fail' });
    expect(certainRootCause(order, answered)).toBe('rds.status');
  });

  it('is certain there is no root cause only when every step has answered', () => {
    const order = diagnosisOrder(['ssm.parameters', 'rds.status', 'containers.running']);
    const answered = new Map<StepId, { status: CheckStatus }>([
      ['ssm.parameters', { status: 'pass' }],
      ['rds.status', { status: 'warn' }],
    ]);
    expect(certainRootCause(order, answered)).toBeUndefined();
    answered.set('containers.running', { status: 'error' });
    expect(certainRootCause(order, answered)).toBeNull();
  });

  it('places the instance role step with the containers, so a network or database cause never waits for its simulation', () => {
    const order = diagnosisOrder([...CHECK_IDS, ...RUNBOOK_STEP_IDS]);
    for (const earlier of ['sg.backend-ingress', 'net.tcp', 'db.login', 'rds.status'] as const) {
      expect(order.indexOf('backend.role-permissions')).toBeGreaterThan(order.indexOf(earlier));
    }
    expect(order.indexOf('backend.role-permissions')).toBeLessThan(order.indexOf('containers.running'));
  });

  it('gives an early answer with the steps still running, not complete', () => {
    const d = diagnoseFrom('production', 'aws', '2026-11-27T12:00:00.000Z', [step('sg.backend-ingress', 'fail'), step('ssm.parameters', 'pass')], [
      { id: 'containers.running', title: 'Is the container running?', check: 'containers.running', runbooks: ['container-unhealthy'] },
      { id: 'backend.role-permissions', title: 'May the role read?', check: 'ssm.parameters', runbooks: ['could-not-connect'] },
    ]);
    expect(d).toMatchObject({ rootCause: 'sg.backend-ingress', verdict: 'broken', complete: false });
    expect(d.pending.map((p) => p.id)).toEqual(['backend.role-permissions', 'containers.running']);
    expect(diagnose([step('ssm.parameters', 'pass')])).toMatchObject({ complete: true, pending: [] });
  });

  it('orders every step id it knows', () => {
    const all: StepId[] = [...CHECK_IDS, ...RUNBOOK_STEP_IDS];
    expect(new Set(diagnosisOrder(all)).size).toBe(all.length);
  });
});

describe('the runbooks as data', () => {
  it('uses every runbook-only step in some runbook, and only steps of its own kind', () => {
    const used = new Set(RUNBOOK_IDS.flatMap((id) => RUNBOOKS[id].steps.map((s) => s.id)));
    for (const id of RUNBOOK_STEP_IDS) expect(used, id).toContain(id);
    for (const id of RUNBOOK_IDS) {
      for (const s of RUNBOOKS[id].steps) {
        const step = RUNBOOK_STEP_DEFINITIONS.get(s.id as RunbookOnlyStepId);
        if (step) expect(step.kinds, `${id}/${s.id}`).toEqual([RUNBOOKS[id].kind]);
      }
    }
  });

  it('has each step once per runbook, with a question and a meaning', () => {
    for (const id of RUNBOOK_IDS) {
      const steps = RUNBOOKS[id].steps;
      expect(new Set(steps.map((s) => s.id)).size, id).toBe(steps.length);
      for (const s of steps) {
        expect(s.title.length, `${id}/${s.id}`).toBeGreaterThan(5);
        expect(s.meaning.length, `${id}/${s.id}`).toBeGreaterThan(10);
      }
    }
  });

  it('opens the runbook the seed lists a check under', () => {
    expect(runbookForStep('sg.backend-ingress', 'aws')).toBe('could-not-connect');
    expect(runbookForStep('ssm.parameters', 'aws')).toBe('could-not-connect');
    expect(runbookForStep('rds.username-match', 'aws')).toBe('authentication-failed');
    expect(runbookForStep('containers.fresh-credentials', 'aws')).toBe('authentication-failed');
    expect(runbookForStep('containers.health', 'aws')).toBe('container-unhealthy');
    expect(runbookForStep('local.database-url', 'local')).toBe('local-connection-refused');
  });
});
