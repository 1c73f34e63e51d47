import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AwsCall, FaultRule, FaultStore, LabErrorCode } from '../contract';
import { KNOWN_SERVICES } from './replies';

// The lab's fault switches. Rules arrive as JSON on /_lab/faults and are checked strictly, so a
// typo in a test or a demo is a 400 with the reason, never a rule that silently matches nothing.

const ERROR_CODES = ['ThrottlingException', 'RequestLimitExceeded', 'AccessDeniedException', 'InternalError'] as const satisfies readonly LabErrorCode[];

const service = z.enum(KNOWN_SERVICES, { error: `service must be one of ${KNOWN_SERVICES.join(', ')}` });
const action = z.string().regex(/^[A-Z][A-Za-z0-9]*$/, 'action must be an API action name such as "GetParameters"');
const id = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'id must be 1-64 letters, digits, ".", "_" or "-"');

const ruleInput = z.discriminatedUnion(
  'kind',
  [
    z.strictObject({ id: id.optional(), kind: z.literal('latency'), service: service.optional(), action: action.optional(), ms: z.number().int().min(0).max(60_000) }),
    z.strictObject({
      id: id.optional(),
      kind: z.literal('error'),
      service,
      action: action.optional(),
      error: z.enum(ERROR_CODES, { error: `error must be one of ${ERROR_CODES.join(', ')}` }),
      probability: z.number({ error: 'probability must be a number from 0 to 1' }).min(0, 'probability must be from 0 to 1').max(1, 'probability must be from 0 to 1'),
    }),
    z.strictObject({ id: id.optional(), kind: z.literal('kms-denied') }),
    z.strictObject({ id: id.optional(), kind: z.literal('container'), instanceId: z.string().min(1), mode: z.enum(['crashed', 'unhealthy'], { error: 'mode must be "crashed" or "unhealthy"' }) }),
    z.strictObject({
      id: id.optional(),
      kind: z.literal('lost-answer'),
      service,
      action: action.optional(),
      mode: z.enum(['drop', 'delay'], { error: 'mode must be "drop" (no answer, connection closed) or "delay" (answer after ms)' }),
      ms: z.number().int().min(1).max(600_000).optional(),
      count: z.number({ error: 'count must be a whole number from 1' }).int('count must be a whole number from 1').min(1, 'count must be a whole number from 1').optional(),
    }),
  ],
  { error: 'kind must be one of latency, error, kms-denied, container, lost-answer' },
);

export class FaultRuleError extends Error {}

/** Validates a rule from the control API; `knownInstanceIds` decides which container targets exist. */
export function parseFaultRule(raw: unknown, knownInstanceIds: () => string[]): FaultRule {
  const parsed = ruleInput.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new FaultRuleError(`${where}${issue.message}`);
  }
  const rule = parsed.data;
  if (rule.kind === 'container' && !knownInstanceIds().includes(rule.instanceId)) {
    throw new FaultRuleError(`instanceId: no lab instance "${rule.instanceId}" (known: ${knownInstanceIds().join(', ') || 'none'})`);
  }
  if (rule.kind === 'lost-answer' && rule.mode === 'delay' && rule.ms === undefined) throw new FaultRuleError('ms: mode "delay" needs ms, how long the answer is held');
  if (rule.kind === 'lost-answer' && rule.mode === 'drop' && rule.ms !== undefined) throw new FaultRuleError('ms: only mode "delay" takes ms; "drop" never answers');
  return { ...rule, id: rule.id ?? randomUUID().slice(0, 8) } as FaultRule;
}

export interface LabFaultStore extends FaultStore {
  add(rule: FaultRule): FaultRule;
  remove(id: string): boolean;
  clear(): void;
  /** Total added latency for a call, in ms. */
  latencyFor(call: AwsCall): number;
  /** The error to answer with, after rolling each matching rule's probability; undefined lets the call through. */
  errorFor(call: AwsCall, random?: () => number): LabErrorCode | undefined;
  kmsDenied(): boolean;
  /** Whether this call's answer is to be lost; using a rule with a count uses one of its calls up. */
  lostAnswerFor(call: AwsCall): LostAnswer | undefined;
}

export type LostAnswer = { mode: 'drop' } | { mode: 'delay'; ms: number };

export function createFaultStore(): LabFaultStore {
  let rules: FaultRule[] = [];
  const listeners: Array<() => void> = [];
  const changed = () => {
    for (const listener of listeners) {
      try {
        listener();
      } catch {
        // a host reacting to a fault must not break the control API
      }
    }
  };
  const matches = (rule: { service?: string; action?: string }, call: AwsCall) =>
    (!rule.service || rule.service === call.service) && (!rule.action || rule.action === call.action);

  return {
    list: () => rules.map((r) => ({ ...r })),
    containerFault(instanceId) {
      let mode: 'crashed' | 'unhealthy' | undefined;
      for (const r of rules) if (r.kind === 'container' && r.instanceId === instanceId) mode = r.mode;
      return mode;
    },
    onChange: (listener) => void listeners.push(listener),
    add(rule) {
      rules = [...rules.filter((r) => r.id !== rule.id), rule];
      changed();
      return { ...rule };
    },
    remove(ruleId) {
      const before = rules.length;
      rules = rules.filter((r) => r.id !== ruleId);
      if (rules.length === before) return false;
      changed();
      return true;
    },
    clear() {
      rules = [];
      changed();
    },
    latencyFor(call) {
      let ms = 0;
      for (const r of rules) if (r.kind === 'latency' && matches(r, call)) ms += r.ms;
      return ms;
    },
    errorFor(call, random = Math.random) {
      for (const r of rules) {
        if (r.kind === 'error' && matches(r, call) && random() < r.probability) return r.error;
      }
      return undefined;
    },
    kmsDenied: () => rules.some((r) => r.kind === 'kms-denied'),
    lostAnswerFor(call) {
      const rule = rules.find((r) => r.kind === 'lost-answer' && matches(r, call));
      if (!rule || rule.kind !== 'lost-answer') return undefined;
      if (rule.count !== undefined) {
        const left = rule.count - 1;
        rules = left > 0 ? rules.map((r) => (r === rule ? { ...rule, count: left } : r)) : rules.filter((r) => r !== rule);
        if (left === 0) changed();
      }
      return rule.mode === 'drop' ? { mode: 'drop' } : { mode: 'delay', ms: rule.ms ?? 0 };
    },
  };
}
