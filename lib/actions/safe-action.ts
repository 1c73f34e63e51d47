import 'server-only';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { checkReauthentication } from '@/lib/auth/reauth';
import { getSessionInfo, signInAgainPath, signInPath, type SessionInfo } from '@/lib/auth/session';
import { getConfig } from '@/lib/config/load';
import { ENVIRONMENT_NAME_PATTERN, type Role } from '@/lib/config/schema';
import { hasRole, type Caller } from '@/lib/roles';

// The chain every server action in lib/actions is built from, after dub's safe-action: an action is
// an entry point anyone can POST to with any arguments, so each link checks one thing, in this
// order — the session (never the payload) names the caller, the role, a strict schema (unknown
// fields, wrong types and oversized input are refused before any AWS call), the environment, the
// typed confirmation, re-authentication — and only then the action runs. Every refusal is audited,
// and nothing thrown reaches the user: they get the action's own error state.

/** What a dangerous action's form (useActionState) holds. Never carries what the user typed. */
export interface ActionState {
  ok?: boolean;
  /** Shown to the user; written by the console, never echoing input. */
  error?: string;
  /** Where to sign in again when the error is about the session. */
  signInUrl?: string;
  message?: string;
}

/** Far above any honest form (a name, its confirmation, an image tag), far below Next's 1 MB cap. */
export const MAX_ACTION_INPUT_BYTES = 4096;

/** A link refused the request: a message for the user, and one for the audit log, both the console's own words. */
export class Refusal extends Error {
  constructor(
    readonly userMessage: string,
    readonly auditDetail: string,
    readonly signInUrl?: string,
  ) {
    super(userMessage);
    this.name = 'Refusal';
  }
}

export interface ActionMeta<State> {
  /** The audit log's action name, e.g. "rotation.start". */
  action: string;
  /** For messages: "rotating the password needs operator". */
  what: string;
  /** Where the user comes back to after signing in again. */
  page: (environment: string | null) => string;
  /** The action's state for a refusal or a failure. */
  refused: (message: string, signInUrl?: string) => State;
  /** Largest payload accepted, in bytes. */
  maxBytes?: number;
}

/** What every link sees: the raw payload, and the environment it names when that one is configured (to file refusals under). */
export interface ChainContext {
  meta: ActionMeta<unknown>;
  raw: Record<string, unknown>;
  environment: string | null;
  session?: SessionInfo;
}

type Link<In, Out> = (ctx: In) => Out | Promise<Out>;

/** What useActionState calls: (previous state, FormData) from the form — or anything a forged POST sends. */
export type ServerAction<State> = (previous: unknown, payload: unknown) => Promise<State>;

export class ActionChain<Ctx extends ChainContext, State> {
  constructor(
    private readonly meta: ActionMeta<State>,
    private readonly links: ReadonlyArray<Link<ChainContext, ChainContext>>,
  ) {}

  use<Next extends ChainContext>(link: Link<Ctx, Next>): ActionChain<Next, State> {
    return new ActionChain<Next, State>(this.meta, [...this.links, link as unknown as Link<ChainContext, ChainContext>]);
  }

  run(action: (ctx: Ctx) => Promise<State>): ServerAction<State> {
    const { meta, links } = this;
    return async (_previous, payload) => {
      let ctx: ChainContext = { meta: meta as ActionMeta<unknown>, raw: {}, environment: null };
      try {
        const raw = payloadToObject(payload, meta.maxBytes ?? MAX_ACTION_INPUT_BYTES);
        ctx = { ...ctx, raw, environment: knownEnvironmentName(raw) };
        for (const link of links) ctx = await link(ctx);
        return await action(ctx as Ctx);
      } catch (err) {
        if (err instanceof Refusal) {
          await recordAuditSafely({ ...auditActor(ctx.session?.caller), action: meta.action, environment: ctx.environment, outcome: 'refused', detail: err.auditDetail });
          return meta.refused(err.userMessage, err.signInUrl);
        }
        return meta.refused(await unexpected(meta.action, ctx, err));
      }
    };
  }
}

export function actionChain<State>(meta: ActionMeta<State>): ActionChain<ChainContext, State> {
  return new ActionChain<ChainContext, State>(meta, []);
}

// ---- the links, in the order every action uses them ----

export type WithCaller = ChainContext & { session: SessionInfo; caller: Caller };

/** The caller comes from the session cookie, never from the payload. */
export const withSession: Link<ChainContext, WithCaller> = async (ctx) => {
  const session = await getSessionInfo();
  if (!session) throw new Refusal('Your session has ended. Sign in again, then repeat the action.', 'not signed in', signInPath(ctx.meta.page(ctx.environment)));
  return { ...ctx, session, caller: session.caller };
};

export function requireRole<Ctx extends WithCaller>(role: Role): Link<Ctx, Ctx> {
  return (ctx) => {
    const { id, role: has } = ctx.caller;
    if (!hasRole(ctx.caller, role)) throw new Refusal(`You are signed in as ${has}; ${ctx.meta.what} needs ${role}.`, `${id} is ${has}; ${ctx.meta.what} needs ${role}`);
    return ctx;
  };
}

export function withInput<Ctx extends WithCaller, Schema extends z.ZodType>(schema: Schema): Link<Ctx, Ctx & { input: z.infer<Schema> }> {
  return (ctx) => ({ ...ctx, input: parseInput(schema, ctx.raw) });
}

type WithEnvironmentInput = WithCaller & { input: { environment: string } };

/** The environment the input names exists, and (for the dangerous actions) has AWS resources to act on. */
export function withEnvironment<Ctx extends WithEnvironmentInput>(opts: { kind?: 'aws' } = {}): Link<Ctx, Ctx & { environment: string }> {
  return (ctx) => {
    const name = ctx.input.environment;
    // The name passed the schema's pattern, so it is safe to repeat.
    const configured = getConfig().environments.find((e) => e.name === name);
    if (!configured) throw new Refusal(`There is no environment named "${name}".`, `no environment named "${name}"`);
    if (opts.kind && configured.kind !== opts.kind) {
      const why = `${name} is a local environment; it has no RDS instance or backend fleet to act on`;
      throw new Refusal(`${why}.`, why);
    }
    return { ...ctx, environment: name };
  };
}

export const withConfirmation = <Ctx extends WithEnvironmentInput & { input: { confirmEnvironment: string } }>(ctx: Ctx): Ctx => {
  if (ctx.input.confirmEnvironment !== ctx.input.environment) {
    throw new Refusal(`The confirmation does not match: type "${ctx.input.environment}" exactly to confirm.`, 'the typed confirmation does not match the environment name');
  }
  return ctx;
};

/** A stolen or forgotten-open session alone must not change production: the IdP sign-in must be recent. */
export const withReauthentication = <Ctx extends WithEnvironmentInput>(ctx: Ctx): Ctx => {
  const reauth = checkReauthentication({ caller: ctx.caller, authTime: ctx.session.authTime });
  if (!reauth.ok) {
    const signInAgain = reauth.reason === 'stale-sign-in' ? signInAgainPath(ctx.meta.page(ctx.input.environment)) : undefined;
    throw new Refusal(reauth.message, `re-authentication needed: ${reauth.reason}`, signInAgain);
  }
  return ctx;
};

// ---- the dangerous actions: all five links ----

const environmentName = z.string().regex(ENVIRONMENT_NAME_PATTERN, 'not an environment name');

/** The fields every dangerous environment action takes; actions may extend it (still strict). */
export const confirmedEnvironmentInput = z.strictObject({
  environment: environmentName,
  confirmEnvironment: z.string().max(64),
});

export type ConfirmedEnvironmentInput = z.infer<typeof confirmedEnvironmentInput>;

export interface EnvironmentActionDefinition<Schema extends z.ZodType<ConfirmedEnvironmentInput>> {
  action: string;
  what: string;
  role: Role;
  schema: Schema;
  page: (environment: string) => string;
  /** Runs only after every link passed; its errors become `{error}` and a "failure" audit entry. */
  run: (ctx: { caller: Caller; input: z.infer<Schema> }) => Promise<ActionState>;
}

export function environmentAction<Schema extends z.ZodType<ConfirmedEnvironmentInput>>(def: EnvironmentActionDefinition<Schema>): ServerAction<ActionState> {
  return actionChain<ActionState>({
    action: def.action,
    what: def.what,
    page: (environment) => (environment ? def.page(environment) : '/'),
    refused: (error, signInUrl) => (signInUrl ? { error, signInUrl } : { error }),
  })
    .use(withSession)
    .use(requireRole(def.role))
    .use(withInput(def.schema))
    .use(withEnvironment({ kind: 'aws' }))
    .use(withConfirmation)
    .use(withReauthentication)
    .run(({ caller, input }) => def.run({ caller, input }));
}

// ---- payload handling ----

async function unexpected(action: string, ctx: ChainContext, err: unknown): Promise<string> {
  const ref = randomBytes(4).toString('hex');
  // The error's class and a reference only: a message from a driver can quote a connection string.
  const kind = err instanceof Error ? err.name : typeof err;
  console.error(`[action ${action}] ${ctx.environment ?? '-'}: unexpected ${kind} (ref ${ref})`);
  await recordAuditSafely({ ...auditActor(ctx.session?.caller), action, environment: ctx.environment, outcome: 'failure', detail: `unexpected ${kind} in the console (ref ${ref})` });
  return `The console hit an unexpected problem and did nothing more (reference ${ref} in the server log). Try again, or check the audit log.`;
}

/**
 * FormData (a form), or a plain object (a forged or scripted call), into one flat object of strings.
 * Files and repeated fields are refused: no honest form here sends either.
 */
export function payloadToObject(payload: unknown, maxBytes = MAX_ACTION_INPUT_BYTES): Record<string, unknown> {
  const tooLarge = () => new Refusal('The request is too large.', `the request was larger than ${maxBytes} bytes`);
  if (payload instanceof FormData) {
    const out: Record<string, unknown> = {};
    let bytes = 0;
    for (const [key, value] of payload.entries()) {
      if (typeof value !== 'string') throw new Refusal('This form does not take files.', 'the request carried a file');
      bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
      if (bytes > maxBytes) throw tooLarge();
      // A server-rendered form carries React's hidden $ACTION_ fields for progressive enhancement;
      // once hydrated, React submits them along with the user's fields. They name the action, not input.
      if (key.startsWith('$ACTION_')) continue;
      if (Object.hasOwn(out, key)) throw new Refusal('The request repeats a field.', 'the request repeated a field');
      out[key] = value;
    }
    return out;
  }
  if (payload !== null && typeof payload === 'object' && Object.getPrototypeOf(payload) === Object.prototype) {
    let size: number;
    try {
      size = Buffer.byteLength(JSON.stringify(payload));
    } catch {
      throw new Refusal('The request is not a form this action understands.', 'the request was not a plain form');
    }
    if (size > maxBytes) throw tooLarge();
    return payload as Record<string, unknown>;
  }
  throw new Refusal('The request is not a form this action understands.', 'the request was not a form');
}

function parseInput<Schema extends z.ZodType>(schema: Schema, raw: Record<string, unknown>): z.infer<Schema> {
  // An empty optional field from a form means "not given".
  const cleaned = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (parsed.success) return parsed.data;
  const problems = new Set<string>();
  for (const issue of parsed.error.issues) {
    // Keys the schema does not know are the sender's text: count them, never repeat them.
    if (issue.code === 'unrecognized_keys') problems.add('fields this action does not take');
    else if (issue.path.length > 0 && typeof issue.path[0] === 'string' && isSchemaKey(schema, issue.path[0])) problems.add(`${issue.path[0]} is missing or invalid`);
    else problems.add('a malformed field');
  }
  const list = [...problems].join('; ');
  throw new Refusal(`The request was refused: ${list}.`, `the request was rejected before any AWS call: ${list}`);
}

function isSchemaKey(schema: z.ZodType, key: string): boolean {
  return schema instanceof z.ZodObject && Object.hasOwn(schema.shape, key);
}

/** The payload's environment when it names a configured one, so a refusal can be filed under it. */
function knownEnvironmentName(raw: Record<string, unknown>): string | null {
  const name = raw.environment;
  return typeof name === 'string' && getConfig().environments.some((e) => e.name === name) ? name : null;
}
