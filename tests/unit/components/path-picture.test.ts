import { describe, expect, it } from 'vitest';
import { backendLines, pathNodes } from '@/components/environment/path-picture';
import type { CheckId, CheckResult, CheckStatus } from '@/lib/checks/types';

const r = (id: CheckId, status: CheckStatus): CheckResult => ({ id, status, summary: '', evidence: {} });

describe('the path picture', () => {
  it('colours each node by its worst check and marks the node holding the root cause', () => {
    const nodes = pathNodes('aws', [r('ssm.parameters', 'pass'), r('containers.running', 'pass'), r('sg.backend-ingress', 'fail'), r('net.tcp', 'fail'), r('db.login', 'skip'), r('rds.status', 'pass')], 'sg.backend-ingress');
    expect(nodes.map((n) => [n.key, n.status, n.isRootCause])).toEqual([
      ['ssm', 'pass', false],
      ['backends', 'pass', false],
      ['network', 'fail', true],
      ['rds', 'skip', false],
    ]);
    expect(nodes[2]!.anchor).toBe('#section-Network');
    expect(nodes[2]!.detail).toBe('2 checks: 2 fail');
  });

  it('never shows "could not check" as pass: an errored check outranks passing ones', () => {
    const [ssm] = pathNodes('aws', [r('ssm.parameters', 'error'), r('ssm.password-type', 'pass')], null);
    expect(ssm).toMatchObject({ status: 'error', isRootCause: false });
  });

  it('draws the local path with its own two nodes', () => {
    expect(pathNodes('local', [r('local.database-url', 'fail'), r('containers.health', 'pass')], 'local.database-url').map((n) => [n.key, n.status, n.isRootCause])).toEqual([
      ['backends', 'pass', false],
      ['database', 'fail', true],
    ]);
  });

  it('gives each backend a line: what its container is and whether the VPC lets it through, never "ok" for what was not read', () => {
    const lines = backendLines([
      { id: 'i-1', name: 'linkbox-backend-1', state: 'running', container: 'running', path: 'open' },
      { id: 'i-2', name: 'linkbox-backend-2', state: 'running', container: 'running', path: 'dropped' },
      { id: 'i-3', name: null, state: 'running', container: 'exited', path: 'open' },
      { id: 'i-4', name: 'linkbox-backend-4', state: 'running', container: null, path: 'open' },
      { id: 'i-5', name: 'linkbox-backend-5', state: 'stopped', container: null, path: null },
    ]);
    expect(lines.map((l) => [l.label, l.status, l.word])).toEqual([
      ['linkbox-backend-1', 'pass', 'ok'],
      ['linkbox-backend-2', 'fail', 'dropped'],
      ['i-3', 'fail', 'exited'],
      ['linkbox-backend-4', 'error', 'not read'],
      ['linkbox-backend-5', 'skip', 'stopped'],
    ]);
    expect(lines[1]!.text).toBe('container running, path dropped');
    // A Name tag two instances share does not tell them apart: their ids do.
    expect(backendLines([
      { id: 'i-1', name: 'linkbox-backend', state: 'running', container: 'running', path: 'open' },
      { id: 'i-2', name: 'linkbox-backend', state: 'running', container: 'running', path: 'open' },
    ]).map((l) => l.label)).toEqual(['i-1', 'i-2']);
  });
});
