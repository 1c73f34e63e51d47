import type { AwsCall, AwsReply } from '../contract';
import type { RequestCounters } from '../gateway/counters';
import type { CallHandler } from '../gateway/server';
import { authorizationsFor, type Authorization, type CallScope } from './actions';
import { decodeAuthorizationMessageReply, denialReply, invalidCredentialsReply, type Denial, type DenialReason } from './denials';
import { NoSuchEntityError, rolePolicies, userPolicies, type PrincipalPolicies, type RolePolicies } from './policies';
import {
  evaluatePrincipal,
  evaluateResourcePolicy,
  PolicyEvaluationError,
  type PolicySource,
  type PrincipalRef,
  type RequestContext,
} from './policy-evaluator';
import { createPrincipalResolver, sessionFromAssumeRoleXml, type Principal } from './principals';
import { createWorld } from './world';

// IAM enforcement at the lab's gateway: every AWS call is checked the way AWS checks it before moto
// sees it — who is calling (principals.ts), what the call needs (actions.ts), whether the caller's
// policies as IAM holds them in moto allow it (policy-evaluator.ts) — and refused in the service's
// own words (denials.ts). The lab's admin keys pass unchecked, except that AssumeRole always needs
// the role's trust policy. Policies are read through moto's IAM API, cached for a moment, and
// forgotten whenever an IAM or CloudFormation change passes through the gateway.

export interface IamEnforcerOptions {
  motoUrl: string;
  /** False: every caller is unrestricted, as moto alone would have it. */
  enforce: boolean;
  counters: RequestCounters;
  log: (line: string) => void;
}

export interface IamState {
  enforced: boolean;
  /** Fixed lab keys that act as a principal rather than as the lab's admin (LABCONSOLE → the console's source user). */
  boundAccessKeys: Record<string, string>;
}

export interface IamEnforcer {
  /** Undefined lets the call through; otherwise AWS's refusal in the service's dialect. */
  authorize(call: AwsCall): Promise<AwsReply | undefined>;
  /** Records AssumeRole sessions, answers DecodeAuthorizationMessage, forgets policies after IAM changes. */
  handler: CallHandler;
  bind(accessKeyId: string, principalArn: string): void;
  state(): IamState;
  stop(): void;
}

const POLICY_TTL_MS = 2000;

export function createIamEnforcer(options: IamEnforcerOptions): IamEnforcer {
  const world = createWorld(options.motoUrl);
  const principals = createPrincipalResolver({ motoUrl: options.motoUrl, world });
  const bound: Record<string, string> = {};
  let generation = 0;
  const cache = new Map<string, { generation: number; at: number; value: Promise<unknown> }>();

  const cached = <T>(key: string, read: () => Promise<T>): Promise<T> => {
    const hit = cache.get(key);
    if (hit && hit.generation === generation && Date.now() - hit.at < POLICY_TTL_MS) return hit.value as Promise<T>;
    const value = read();
    cache.set(key, { generation, at: Date.now(), value });
    value.catch(() => cache.delete(key));
    return value;
  };

  const role = (name: string): Promise<RolePolicies | undefined> =>
    cached(`role:${name}`, () =>
      rolePolicies(world.iam, name).catch((err: unknown) => {
        if (err instanceof NoSuchEntityError) return undefined;
        throw err;
      }),
    );

  /** The caller's own policies; a role or user that no longer exists has none. */
  const policiesOf = async (p: Extract<Principal, { kind: 'role-session' | 'user' }>): Promise<PrincipalPolicies & { session: PolicySource | null }> => {
    const session = p.kind === 'role-session' && p.sessionPolicy ? { id: 'session policy', type: 'none' as const, document: p.sessionPolicy } : null;
    const held =
      p.kind === 'role-session'
        ? await role(p.roleName)
        : await cached(`user:${p.userName}`, () =>
            userPolicies(world.iam, p.userName).catch((err: unknown) => {
              if (err instanceof NoSuchEntityError) return undefined;
              throw err;
            }),
          );
    const fallbackArn = p.kind === 'role-session' ? `arn:aws:iam::${p.accountId}:role/${p.roleName}` : p.arn;
    return { arn: held?.arn ?? fallbackArn, identity: held?.identity ?? [], boundary: held?.boundary ?? null, session };
  };

  const refuse = (call: AwsCall, denial: Denial): AwsReply => {
    options.counters.deny(call, { principal: denial.principalArn, action: denial.action });
    const reason = denial.reason.kind === 'unevaluable' ? ` (${denial.reason.detail})` : '';
    options.log(`IAM: denied ${denial.action} on ${denial.resource} to ${denial.principalArn}${reason}`);
    return denialReply(denial);
  };

  async function check(call: AwsCall, principal: Exclude<Principal, { kind: 'invalid' }>, auth: Authorization): Promise<Denial | undefined> {
    const own = principal.kind === 'admin' ? undefined : await policiesOf(principal);
    const ref: PrincipalRef = { arn: principal.arn, accountId: principal.accountId, ...(principal.kind === 'role-session' ? { roleArn: own!.arn } : {}) };
    const context: RequestContext = { ...globalContext(call, principal, own?.arn), ...auth.context };
    const deny = (reason: DenialReason): Denial => ({
      call,
      principalArn: principal.arn,
      principalId: principal.id,
      action: auth.action,
      resource: auth.resource,
      reason,
      context,
      ...(auth.onBehalfOf ? { onBehalfOf: auth.onBehalfOf } : {}),
    });
    const request = { action: auth.action, resource: auth.resource, context };
    try {
      // The lab's admin is the account root: its own permissions are whole, a trust policy still decides.
      const mine = own ? evaluatePrincipal(own, request) : undefined;
      if (mine?.decision === 'explicitDeny') return deny({ kind: 'explicit', by: mine.deniedBy! });
      const resourcePolicy = auth.resourcePolicy;
      if (resourcePolicy && (own || resourcePolicy.kind === 'trust-policy')) {
        const theirs = resourcePolicy.source ? evaluateResourcePolicy(resourcePolicy.source, { ...request, principal: ref }) : undefined;
        if (resourcePolicy.kind === 'trust-policy' && theirs?.decision !== 'allowed') return deny({ kind: 'trust' });
        if (theirs?.decision === 'explicitDeny') return deny({ kind: 'explicit', by: 'resource-based policy' });
        if (theirs?.decision !== 'allowed') return deny({ kind: 'implicit', by: 'resource-based policy' });
        // A resource policy naming the caller itself grants without the caller's own policies.
        if (theirs.grant === 'principal') return undefined;
      }
      if (mine && mine.decision !== 'allowed') return deny({ kind: 'implicit', by: mine.deniedBy! });
      return undefined;
    } catch (err) {
      if (err instanceof PolicyEvaluationError) return deny({ kind: 'unevaluable', detail: err.message });
      throw err;
    }
  }

  return {
    async authorize(call) {
      if (!options.enforce) return undefined;
      const principal = await principals.resolve(call.accessKeyId, call.region);
      if (principal.kind === 'invalid') {
        options.log(`IAM: refused ${call.service}:${call.action} signed with ${call.accessKeyId}: ${principal.reason}`);
        return invalidCredentialsReply(call);
      }
      // Only a trust policy limits the lab's admin, so its other calls need no look-ups at all.
      if (principal.kind === 'admin' && !(call.service === 'sts' && call.action === 'AssumeRole')) return undefined;
      const scope: CallScope = { call, accountId: await world.accountId(), world, role };
      for (const auth of await authorizationsFor(scope)) {
        const denial = await check(call, principal, auth);
        if (denial) return refuse(call, denial);
      }
      return undefined;
    },

    handler: async (call, forward) => {
      if (call.service === 'sts' && call.action === 'DecodeAuthorizationMessage') return decodeAuthorizationMessageReply(call);
      if (call.service === 'sts' && call.action === 'AssumeRole') {
        const reply = await forward();
        const session = reply.status === 200 ? sessionFromAssumeRoleXml(reply.body) : undefined;
        if (session && call.accessKeyId !== null) {
          principals.recordSession(session.accessKeyId, { arn: session.arn, sessionPolicy: typeof call.input.Policy === 'string' ? call.input.Policy : null });
        }
        return reply;
      }
      if (changesWhoMayDoWhat(call)) {
        const reply = await forward();
        generation++;
        principals.forget();
        return reply;
      }
      return undefined;
    },

    bind(accessKeyId, principalArn) {
      bound[accessKeyId] = principalArn;
      principals.bind(accessKeyId, principalArn);
    },

    state: () => ({ enforced: options.enforce, boundAccessKeys: { ...bound } }),

    stop() {
      world.stop();
    },
  };
}

/** IAM and CloudFormation changes (policies, roles, keys), and an instance's profile. */
function changesWhoMayDoWhat(call: AwsCall): boolean {
  if (call.service === 'iam') return !/^(Get|List|Simulate|Generate)/.test(call.action);
  if (call.service === 'cloudformation') return /^(Create|Update|Delete)Stack$/.test(call.action);
  if (call.service === 'ec2') return /IamInstanceProfile/.test(call.action);
  return false;
}

/** The global condition keys of every request (reference_policies_condition-keys). */
function globalContext(call: AwsCall, principal: Exclude<Principal, { kind: 'invalid' }>, roleArn: string | undefined): RequestContext {
  const now = new Date();
  const context: RequestContext = {
    'aws:PrincipalArn': principal.kind === 'role-session' && roleArn ? roleArn : principal.arn,
    'aws:PrincipalAccount': principal.accountId,
    'aws:PrincipalType': principal.kind === 'role-session' ? 'AssumedRole' : principal.kind === 'user' ? 'User' : 'Account',
    // The lab listens on the loopback interface only.
    'aws:SourceIp': '127.0.0.1',
    'aws:SecureTransport': 'false',
    'aws:CurrentTime': now.toISOString(),
    'aws:EpochTime': String(Math.floor(now.getTime() / 1000)),
    'aws:RequestedRegion': call.region,
    'aws:ViaAWSService': 'false',
  };
  if (principal.kind === 'user') context['aws:username'] = principal.userName;
  return context;
}
