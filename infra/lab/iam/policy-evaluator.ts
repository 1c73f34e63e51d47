import { evaluateCondition, globRegExp, PolicyEvaluationError, type RequestContext } from './conditions';
import { statementsOf, type Position, type Statement } from './policy-document';

// IAM's policy evaluation, the one the lab uses both to answer iam:SimulatePrincipalPolicy and to
// enforce policies on every call through its gateway (reference_policies_evaluation-logic):
// an explicit Deny in any policy wins, else an Allow allows, else the request is implicitly denied.
// A statement applies when its Action/NotAction, Resource/NotResource (identity policies) or
// Principal/NotPrincipal (resource-based policies such as a role's trust policy) and every
// condition match. Actions match case-insensitively; resources case-sensitively, with `*` and `?`
// inside an ARN component and a trailing `*` free to run across the colons after it.
// A policy the lab cannot evaluate raises PolicyEvaluationError: it never silently allows.

export { PolicyEvaluationError, type ContextValue, type RequestContext } from './conditions';
export type { Position } from './policy-document';

export type PolicySourceType = 'user' | 'group' | 'role' | 'aws-managed' | 'user-managed' | 'resource' | 'none';

export interface PolicySource {
  id: string;
  type: PolicySourceType;
  /** The policy document as JSON text (positions in MatchedStatements refer to it). */
  document: string;
}

export interface MatchedStatement {
  sourcePolicyId: string;
  sourcePolicyType: PolicySourceType;
  start: Position;
  end: Position;
}

export type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface Evaluation {
  decision: EvalDecision;
  matched: MatchedStatement[];
  /** Condition keys of applicable statements that the request context lacked. */
  missingContextValues: string[];
}

export interface PolicyRequest {
  action: string;
  resource: string;
  context?: RequestContext;
}

/** Who is asking, for the Principal element of a resource-based policy. */
export interface PrincipalRef {
  /** The caller's ARN: an assumed-role session, an IAM user, or the account's root. */
  arn: string;
  accountId: string;
  /** For a role session, the role's ARN (a trust policy may name the role rather than the session). */
  roleArn?: string;
  /** For an AWS service acting as itself (ec2.amazonaws.com assuming an instance role). */
  service?: string;
}

export interface ResourcePolicyEvaluation extends Evaluation {
  /**
   * How an Allow named the caller: `principal` grants it outright; `account` names the caller's
   * whole account, which delegates the decision to the caller's own identity-based policies.
   */
  grant: 'principal' | 'account' | null;
}

/** Identity-based policies (and session policies, permissions boundaries): no Principal element. */
export function evaluate(sources: PolicySource[], request: PolicyRequest): Evaluation {
  const allows: MatchedStatement[] = [];
  const denies: MatchedStatement[] = [];
  const missing = new Set<string>();
  for (const source of sources) {
    for (const statement of readStatements(source)) {
      const s = statement.value;
      if ('Principal' in s || 'NotPrincipal' in s) {
        throw new PolicyEvaluationError(`policy "${source.id}" is an identity-based policy with a Principal element, which IAM rejects`);
      }
      if (!appliesTo(source, statement, request, missing, 'identity')) continue;
      (effectOf(source, statement) === 'Deny' ? denies : allows).push(reference(source, statement));
    }
  }
  return decide(allows, denies, missing);
}

/** A resource-based policy (a role's trust policy, a KMS key policy) for a caller. */
export function evaluateResourcePolicy(source: PolicySource, request: PolicyRequest & { principal: PrincipalRef }): ResourcePolicyEvaluation {
  const allows: MatchedStatement[] = [];
  const denies: MatchedStatement[] = [];
  const missing = new Set<string>();
  let grant: ResourcePolicyEvaluation['grant'] = null;
  for (const statement of readStatements(source)) {
    const match = principalMatch(source, statement.value, request.principal);
    if (!match) continue;
    if (!appliesTo(source, statement, request, missing, 'resource')) continue;
    if (effectOf(source, statement) === 'Deny') denies.push(reference(source, statement));
    else {
      allows.push(reference(source, statement));
      if (grant !== 'principal') grant = match;
    }
  }
  const evaluation = decide(allows, denies, missing);
  return { ...evaluation, grant: evaluation.decision === 'allowed' ? grant : null };
}

/** IAM's `*` and `?` over a whole string, e.g. an action name. */
export function wildcard(pattern: string, value: string, ignoreCase: boolean): boolean {
  return globRegExp(pattern, ignoreCase).test(value);
}

/**
 * A Resource element against a resource ARN: `*` and `?` stay within an ARN component (the parts
 * between the first five colons), except a `*` that ends its component, which may expand across
 * the colons after it; the sixth component (the resource id, which may itself hold colons) is free.
 */
export function resourceMatches(pattern: string, resource: string): boolean {
  let source = '';
  let colons = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    const inHead = colons < 5;
    if (c === '*') source += inHead && i + 1 < pattern.length && pattern[i + 1] !== ':' ? '[^:]*' : '.*';
    else if (c === '?') source += inHead ? '[^:]' : '.';
    else {
      if (c === ':') colons++;
      source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`, 's').test(resource);
}

function decide(allows: MatchedStatement[], denies: MatchedStatement[], missing: Set<string>): Evaluation {
  if (denies.length > 0) return { decision: 'explicitDeny', matched: denies, missingContextValues: [...missing] };
  if (allows.length > 0) return { decision: 'allowed', matched: allows, missingContextValues: [...missing] };
  return { decision: 'implicitDeny', matched: [], missingContextValues: [...missing] };
}

function readStatements(source: PolicySource): Statement[] {
  try {
    return statementsOf(source.document);
  } catch (err) {
    throw new PolicyEvaluationError(`policy "${source.id}" is not a readable policy document: ${(err as Error).message}`);
  }
}

function reference(source: PolicySource, statement: Statement): MatchedStatement {
  return { sourcePolicyId: source.id, sourcePolicyType: source.type, start: statement.start, end: statement.end };
}

function effectOf(source: PolicySource, statement: Statement): 'Allow' | 'Deny' {
  const effect = statement.value.Effect;
  if (effect !== 'Allow' && effect !== 'Deny') {
    throw new PolicyEvaluationError(`policy "${source.id}" has a statement whose Effect is ${JSON.stringify(effect)}, not "Allow" or "Deny"`);
  }
  return effect;
}

function appliesTo(source: PolicySource, statement: Statement, request: PolicyRequest, missing: Set<string>, kind: 'identity' | 'resource'): boolean {
  const s = statement.value;
  effectOf(source, statement);
  const context = request.context ?? {};
  const variables = statement.version === '2012-10-17' ? (text: string) => substitute(text, context) : (text: string) => text;

  let actionMatches: boolean;
  if (s.Action !== undefined) actionMatches = strings(source, s.Action, 'Action').some((p) => wildcard(p, request.action, true));
  else if (s.NotAction !== undefined) actionMatches = !strings(source, s.NotAction, 'NotAction').some((p) => wildcard(p, request.action, true));
  else throw new PolicyEvaluationError(`policy "${source.id}" has a statement with neither Action nor NotAction`);
  if (!actionMatches) return false;

  const matchesResource = (pattern: string) => {
    const resolved = variables(pattern);
    return resolved !== undefined && resourceMatches(resolved, request.resource);
  };
  if (s.Resource !== undefined) {
    if (!strings(source, s.Resource, 'Resource').some(matchesResource)) return false;
  } else if (s.NotResource !== undefined) {
    if (strings(source, s.NotResource, 'NotResource').some(matchesResource)) return false;
  } else if (kind === 'identity') {
    throw new PolicyEvaluationError(`policy "${source.id}" has a statement with neither Resource nor NotResource`);
  }

  let outcome;
  try {
    outcome = evaluateCondition(s.Condition, context, variables);
  } catch (err) {
    if (err instanceof PolicyEvaluationError) throw new PolicyEvaluationError(`policy "${source.id}": ${err.message}`);
    throw err;
  }
  outcome.missing.forEach((k) => missing.add(k));
  return outcome.holds;
}

function strings(source: PolicySource, value: unknown, element: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  if (items.some((v) => typeof v !== 'string')) throw new PolicyEvaluationError(`policy "${source.id}" has a ${element} element that is not a string or a list of strings`);
  return items as string[];
}

/**
 * Policy variables (`${aws:username}`, `${aws:PrincipalTag/team}`, `${key, 'default'}`, and the
 * escapes `${*}`, `${?}`, `${$}`): a variable with no value leaves nothing that can match.
 */
function substitute(text: string, context: RequestContext): string | undefined {
  if (!text.includes('${')) return text;
  const lower = new Map(Object.entries(context).map(([k, v]) => [k.toLowerCase(), v]));
  let unresolved = false;
  const out = text.replace(/\$\{([^}]+)\}/g, (_, inner: string) => {
    if (inner === '*' || inner === '?' || inner === '$') return inner;
    const m = /^\s*([^,\s]+)\s*(?:,\s*'([^']*)'\s*)?$/.exec(inner);
    const value = m ? lower.get(m[1]!.toLowerCase()) : undefined;
    const single = Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
    if (single !== undefined) return single;
    if (m?.[2] !== undefined) return m[2];
    unresolved = true;
    return '';
  });
  return unresolved ? undefined : out;
}

function principalMatch(source: PolicySource, s: Record<string, unknown>, who: PrincipalRef): 'principal' | 'account' | null {
  if (s.Principal !== undefined) return principalListMatch(source, s.Principal, who);
  if (s.NotPrincipal !== undefined) return principalListMatch(source, s.NotPrincipal, who) ? null : 'principal';
  throw new PolicyEvaluationError(`resource-based policy "${source.id}" has a statement with neither Principal nor NotPrincipal`);
}

function principalListMatch(source: PolicySource, principal: unknown, who: PrincipalRef): 'principal' | 'account' | null {
  if (principal === '*') return 'principal';
  if (!principal || typeof principal !== 'object' || Array.isArray(principal)) {
    throw new PolicyEvaluationError(`policy "${source.id}" has a Principal that is neither "*" nor an object such as {"AWS": ...}`);
  }
  let best: 'principal' | 'account' | null = null;
  for (const [kind, values] of Object.entries(principal as Record<string, unknown>)) {
    for (const value of strings(source, values, `Principal.${kind}`)) {
      let match: 'principal' | 'account' | null = null;
      if (kind === 'AWS') {
        if (value === '*') match = 'principal';
        else if (value === who.accountId || value === `arn:${partitionOf(who.arn)}:iam::${who.accountId}:root`) match = 'account';
        else if (value === who.arn || (who.roleArn !== undefined && value === who.roleArn)) match = 'principal';
      } else if (kind === 'Service') {
        if (who.service !== undefined && value === who.service) match = 'principal';
      }
      if (match === 'principal') return 'principal';
      if (match === 'account') best = 'account';
    }
  }
  return best;
}

function partitionOf(arn: string): string {
  return arn.split(':')[1] ?? 'aws';
}

/** The policies that bound what a principal may do: its identity policies, capped by a boundary and a session policy. */
export interface PrincipalPolicySet {
  identity: PolicySource[];
  boundary?: PolicySource | null;
  session?: PolicySource | null;
}

export type PolicyKind = 'identity-based policy' | 'permissions boundary' | 'session policy' | 'resource-based policy';

export interface PrincipalEvaluation extends Evaluation {
  /** Which kind of policy denied the request, for AWS's wording ("... in an identity-based policy"). */
  deniedBy: PolicyKind | null;
}

/**
 * A principal's own permissions: an explicit Deny in any of its policies denies; otherwise its
 * identity policies must allow, and so must its permissions boundary and session policy when it
 * has them (each caps the identity policies, none grants on its own).
 */
export function evaluatePrincipal(policies: PrincipalPolicySet, request: PolicyRequest): PrincipalEvaluation {
  const layers: Array<[PolicyKind, Evaluation]> = [['identity-based policy', evaluate(policies.identity, request)]];
  if (policies.boundary) layers.push(['permissions boundary', evaluate([policies.boundary], request)]);
  if (policies.session) layers.push(['session policy', evaluate([policies.session], request)]);
  const missing = [...new Set(layers.flatMap(([, e]) => e.missingContextValues))];
  const explicit = layers.find(([, e]) => e.decision === 'explicitDeny');
  if (explicit) return { decision: 'explicitDeny', matched: explicit[1].matched, missingContextValues: missing, deniedBy: explicit[0] };
  const notAllowing = layers.find(([, e]) => e.decision !== 'allowed');
  if (notAllowing) return { decision: 'implicitDeny', matched: [], missingContextValues: missing, deniedBy: notAllowing[0] };
  return { decision: 'allowed', matched: layers[0]![1].matched, missingContextValues: missing, deniedBy: null };
}
