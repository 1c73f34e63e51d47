import type { AwsCall } from '../contract';

// How many AWS calls reached the lab, so benches and tests can hold the console to its call budget.

export type CountsByService = Record<string, Record<string, number>>;

export interface RequestCounts {
  total: number;
  byService: CountsByService;
  /** Per access key id (not a secret); calls without one are under "anonymous". */
  byCaller: Record<string, { total: number; byService: CountsByService }>;
  /** Calls the lab's IAM enforcement refused, per access key id: who it was and which IAM actions. */
  denied: { total: number; byCaller: Record<string, { principal: string; total: number; byAction: Record<string, number> }> };
}

export interface RequestCounters {
  count(call: AwsCall): void;
  /** A call refused for lack of `action` (e.g. "kms:Decrypt" for an SSM read); counted once per call. */
  deny(call: AwsCall, denial: { principal: string; action: string }): void;
  snapshot(): RequestCounts;
  reset(): void;
}

export function createRequestCounters(): RequestCounters {
  const empty = (): RequestCounts => ({ total: 0, byService: {}, byCaller: {}, denied: { total: 0, byCaller: {} } });
  let counts = empty();
  const bump = (into: CountsByService, call: AwsCall) => {
    const service = (into[call.service] ??= {});
    service[call.action] = (service[call.action] ?? 0) + 1;
  };
  return {
    count(call) {
      counts.total++;
      bump(counts.byService, call);
      const caller = (counts.byCaller[call.accessKeyId ?? 'anonymous'] ??= { total: 0, byService: {} });
      caller.total++;
      bump(caller.byService, call);
    },
    deny(call, { principal, action }) {
      counts.denied.total++;
      const caller = (counts.denied.byCaller[call.accessKeyId ?? 'anonymous'] ??= { principal, total: 0, byAction: {} });
      caller.principal = principal;
      caller.total++;
      caller.byAction[action] = (caller.byAction[action] ?? 0) + 1;
    },
    snapshot: () => structuredClone(counts),
    reset() {
      counts = empty();
    },
  };
}
