import type { AwsCall } from '../contract';

// How many AWS calls reached the lab, so benches and tests can hold the console to its call budget.

export type CountsByService = Record<string, Record<string, number>>;

export interface RequestCounts {
  total: number;
  byService: CountsByService;
  /** Per access key id (not a secret); calls without one are under "anonymous". */
  byCaller: Record<string, { total: number; byService: CountsByService }>;
}

export interface RequestCounters {
  count(call: AwsCall): void;
  snapshot(): RequestCounts;
  reset(): void;
}

export function createRequestCounters(): RequestCounters {
  let counts: RequestCounts = { total: 0, byService: {}, byCaller: {} };
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
    snapshot: () => structuredClone(counts),
    reset() {
      counts = { total: 0, byService: {}, byCaller: {} };
    },
  };
}
