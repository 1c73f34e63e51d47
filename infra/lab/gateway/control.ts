import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LabState, RunCommandRecord } from '../contract';
import type { RequestCounters } from './counters';
import { FaultRuleError, parseFaultRule, type LabFaultStore } from './faults';

// The lab's own control API under /_lab/: fault switches, request counters, the lab's addresses and
// what Run Command has kept.

export interface ControlDeps {
  faults: LabFaultStore;
  counters: RequestCounters;
  /** Undefined while the lab is still starting. */
  state: () => LabState | undefined;
  instanceIds: () => string[];
  runCommandHistory: () => RunCommandRecord[];
}

export function handleControl(req: IncomingMessage, res: ServerResponse, body: Buffer, deps: ControlDeps): void {
  const path = new URL(req.url ?? '/', 'http://lab').pathname.replace(/\/+$/, '');
  const method = req.method ?? 'GET';
  const send = (status: number, value: unknown) => {
    const text = JSON.stringify(value);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };
  const notAllowed = (allowed: string) => {
    res.setHeader('allow', allowed);
    send(405, { error: `${method} is not supported on ${path}; use ${allowed}` });
  };

  if (path === '/_lab/faults') {
    if (method === 'GET') return send(200, { faults: deps.faults.list() });
    if (method === 'DELETE') {
      deps.faults.clear();
      return send(200, { faults: [] });
    }
    if (method === 'POST') {
      let raw: unknown;
      try {
        raw = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return send(400, { error: `malformed JSON: ${(err as Error).message}` });
      }
      try {
        return send(201, deps.faults.add(parseFaultRule(raw, deps.instanceIds)));
      } catch (err) {
        if (err instanceof FaultRuleError) return send(400, { error: err.message });
        throw err;
      }
    }
    return notAllowed('GET, POST, DELETE');
  }

  const one = /^\/_lab\/faults\/([^/]+)$/.exec(path);
  if (one) {
    if (method !== 'DELETE') return notAllowed('DELETE');
    const id = decodeURIComponent(one[1]!);
    return deps.faults.remove(id) ? send(200, { deleted: id }) : send(404, { error: `no fault rule with id "${id}"` });
  }

  if (path === '/_lab/reset') {
    if (method !== 'POST') return notAllowed('POST');
    deps.faults.clear();
    return send(200, { faults: [] });
  }

  if (path === '/_lab/requests') {
    if (method === 'GET') return send(200, deps.counters.snapshot());
    if (method === 'DELETE') {
      deps.counters.reset();
      return send(200, deps.counters.snapshot());
    }
    return notAllowed('GET, DELETE');
  }

  if (path === '/_lab/state') {
    if (method !== 'GET') return notAllowed('GET');
    const state = deps.state();
    return state ? send(200, state) : send(503, { error: 'the lab is still starting' });
  }

  if (path === '/_lab/run-command/history') {
    if (method !== 'GET') return notAllowed('GET');
    return send(200, { commands: deps.runCommandHistory() });
  }

  send(404, { error: `no lab endpoint ${path}; see /_lab/faults, /_lab/reset, /_lab/requests, /_lab/state, /_lab/run-command/history` });
}
