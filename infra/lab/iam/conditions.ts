// A statement's Condition block decided against a request context, with IAM's rules
// (reference_policies_elements_condition_operators, reference_policies_condition-logic-multiple-
// context-keys-or-values):
// - operator blocks AND together, keys within a block AND together, a key's policy values OR
//   together — and NOR for a negated operator (StringNotEquals, ArnNotLike, NotIpAddress, ...);
// - a key absent from the context makes a condition false, except a negated operator (true),
//   `...IfExists` (true), `ForAllValues:` (true) and `Null` (which tests exactly that);
// - `ForAnyValue:` / `ForAllValues:` compare a multi-valued key's values as a set.
// An operator the lab does not know is an error, never a silent match or mismatch.

/** A request's context: key → one value, or several for a multi-valued key (aws:TagKeys, ...). */
export type ContextValue = string | string[];
export type RequestContext = Record<string, ContextValue>;

export class PolicyEvaluationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyEvaluationError';
  }
}

type Match = (contextValue: string, policyValue: string) => boolean;

interface Operator {
  match: Match;
  /** True for the NotX operators: the values NOR together, and an absent key satisfies them. */
  negated: boolean;
}

const stringEquals: Match = (c, p) => c === p;
const stringEqualsIgnoreCase: Match = (c, p) => c.toLowerCase() === p.toLowerCase();
const stringLike: Match = (c, p) => globRegExp(p, false).test(c);

const OPERATORS: Record<string, Operator> = {
  stringequals: { match: stringEquals, negated: false },
  stringnotequals: { match: stringEquals, negated: true },
  stringequalsignorecase: { match: stringEqualsIgnoreCase, negated: false },
  stringnotequalsignorecase: { match: stringEqualsIgnoreCase, negated: true },
  stringlike: { match: stringLike, negated: false },
  stringnotlike: { match: stringLike, negated: true },
  numericequals: { match: numeric((a, b) => a === b), negated: false },
  numericnotequals: { match: numeric((a, b) => a === b), negated: true },
  numericlessthan: { match: numeric((a, b) => a < b), negated: false },
  numericlessthanequals: { match: numeric((a, b) => a <= b), negated: false },
  numericgreaterthan: { match: numeric((a, b) => a > b), negated: false },
  numericgreaterthanequals: { match: numeric((a, b) => a >= b), negated: false },
  dateequals: { match: date((a, b) => a === b), negated: false },
  datenotequals: { match: date((a, b) => a === b), negated: true },
  datelessthan: { match: date((a, b) => a < b), negated: false },
  datelessthanequals: { match: date((a, b) => a <= b), negated: false },
  dategreaterthan: { match: date((a, b) => a > b), negated: false },
  dategreaterthanequals: { match: date((a, b) => a >= b), negated: false },
  bool: { match: (c, p) => c.toLowerCase() === p.toLowerCase(), negated: false },
  binaryequals: { match: stringEquals, negated: false },
  ipaddress: { match: inCidr, negated: false },
  notipaddress: { match: inCidr, negated: true },
  // IAM documents ArnEquals and ArnLike as the same comparison: per ARN component, with wildcards.
  arnequals: { match: arnLike, negated: false },
  arnlike: { match: arnLike, negated: false },
  arnnotequals: { match: arnLike, negated: true },
  arnnotlike: { match: arnLike, negated: true },
};

export interface ConditionOutcome {
  holds: boolean;
  /** Keys the block asked about that the context did not have. */
  missing: string[];
}

/**
 * Decides a statement's Condition element. `resolve` replaces policy variables in a policy value;
 * it returns undefined when a variable has no value, which makes that value match nothing.
 */
export function evaluateCondition(
  condition: unknown,
  context: RequestContext,
  resolve: (policyValue: string) => string | undefined = (v) => v,
): ConditionOutcome {
  if (condition === undefined) return { holds: true, missing: [] };
  if (!isObject(condition)) throw new PolicyEvaluationError('a Condition element must be an object of condition operators');
  const lookup = contextLookup(context);
  const missing: string[] = [];
  let holds = true;
  for (const [operatorName, block] of Object.entries(condition)) {
    if (!isObject(block)) throw new PolicyEvaluationError(`the ${operatorName} condition must map condition keys to values`);
    const parsed = parseOperator(operatorName);
    for (const [key, raw] of Object.entries(block)) {
      const policyValues = (Array.isArray(raw) ? raw : [raw]).map((v) => {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
          throw new PolicyEvaluationError(`the ${operatorName} condition on ${key} has a value that is not a string, number or boolean`);
        }
        return String(v);
      });
      const value = lookup(key);
      if (value === undefined) missing.push(key);
      if (!keyHolds(parsed, value, policyValues, resolve)) holds = false;
    }
  }
  return { holds, missing };
}

interface ParsedOperator {
  set: 'ForAnyValue' | 'ForAllValues' | null;
  ifExists: boolean;
  /** Null is not a comparison: it asks whether the key is absent. */
  base: Operator | 'null';
}

function parseOperator(name: string): ParsedOperator {
  let rest = name;
  let set: ParsedOperator['set'] = null;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const qualifier = rest.slice(0, colon).toLowerCase();
    if (qualifier === 'foranyvalue') set = 'ForAnyValue';
    else if (qualifier === 'forallvalues') set = 'ForAllValues';
    else throw new PolicyEvaluationError(`unknown condition set operator "${rest.slice(0, colon)}" in "${name}" (IAM knows ForAnyValue and ForAllValues)`);
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (/ifexists$/i.test(rest) && rest.length > 'IfExists'.length) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const key = rest.toLowerCase();
  if (key === 'null') {
    if (ifExists || set) throw new PolicyEvaluationError(`"${name}" is not a condition operator: Null takes no IfExists or set qualifier`);
    return { set, ifExists, base: 'null' };
  }
  const base = OPERATORS[key];
  if (!base) throw new PolicyEvaluationError(`unknown condition operator "${name}": the lab evaluates String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress, NotIpAddress, Arn*, Null, with IfExists and ForAnyValue:/ForAllValues:`);
  return { set, ifExists, base };
}

function keyHolds(
  op: ParsedOperator,
  value: ContextValue | undefined,
  policyValues: string[],
  resolve: (policyValue: string) => string | undefined,
): boolean {
  if (op.base === 'null') {
    const wanted = policyValues.map((v) => v.toLowerCase());
    if (wanted.some((v) => v !== 'true' && v !== 'false')) throw new PolicyEvaluationError(`the Null condition takes "true" or "false", not ${JSON.stringify(policyValues)}`);
    const absent = value === undefined || (Array.isArray(value) && value.length === 0);
    return wanted.includes(absent ? 'true' : 'false');
  }
  const { match, negated } = op.base;
  const resolved = policyValues.map(resolve).filter((v): v is string => v !== undefined);
  const anyPolicyValue = (v: string) => resolved.some((p) => match(v, p));

  if (value === undefined || (Array.isArray(value) && value.length === 0)) {
    if (op.set === 'ForAllValues') return true;
    if (op.set === 'ForAnyValue') return op.ifExists;
    return op.ifExists || negated;
  }
  const values = Array.isArray(value) ? value : [value];
  if (op.set === 'ForAllValues') return values.every((v) => (negated ? !anyPolicyValue(v) : anyPolicyValue(v)));
  if (op.set === 'ForAnyValue') return values.some((v) => (negated ? !anyPolicyValue(v) : anyPolicyValue(v)));
  // A single-valued operator on a key with several values asks whether any of them matches.
  const matched = values.some(anyPolicyValue);
  return negated ? !matched : matched;
}

/** Condition keys are not case-sensitive (nor is the tag-key part of aws:ResourceTag/<key>). */
function contextLookup(context: RequestContext): (key: string) => ContextValue | undefined {
  const byLower = new Map<string, ContextValue>();
  for (const [k, v] of Object.entries(context)) byLower.set(k.toLowerCase(), v);
  return (key) => byLower.get(key.toLowerCase());
}

/** `*` any run of characters, `?` exactly one, the rest literally. */
export function globRegExp(pattern: string, ignoreCase: boolean): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
}

/** ArnLike: the six colon-separated components compared one by one, each with `*` and `?`. */
export function arnLike(value: string, pattern: string): boolean {
  if (!pattern.includes(':')) return globRegExp(pattern, false).test(value);
  const a = arnParts(value);
  const p = arnParts(pattern);
  if (!a || !p) return false;
  return p.every((part, i) => globRegExp(part, false).test(a[i]!));
}

function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6) return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

function numeric(compare: (context: number, policy: number) => boolean): Match {
  return (c, p) => {
    const policy = Number(p);
    if (p.trim() === '' || Number.isNaN(policy)) throw new PolicyEvaluationError(`"${p}" is not a number for a Numeric condition`);
    const context = Number(c);
    return c.trim() !== '' && !Number.isNaN(context) && compare(context, policy);
  };
}

function date(compare: (context: number, policy: number) => boolean): Match {
  const parse = (text: string) => (/^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text));
  return (c, p) => {
    const policy = parse(p);
    if (Number.isNaN(policy)) throw new PolicyEvaluationError(`"${p}" is not a date for a Date condition (use ISO 8601 or epoch seconds)`);
    const context = parse(c);
    return !Number.isNaN(context) && compare(context, policy);
  };
}

function inCidr(address: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const baseNumber = ipv4(base ?? '');
  if (baseNumber === undefined) {
    // IPv6 and other forms: the lab compares them literally.
    return address === cidr || address === base;
  }
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new PolicyEvaluationError(`"${cidr}" is not a CIDR block for an IpAddress condition`);
  const value = ipv4(address);
  if (value === undefined) return false;
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return (value & mask) >>> 0 === (baseNumber & mask) >>> 0;
}

function ipv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}
