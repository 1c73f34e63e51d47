import 'server-only';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { auditActor, recordAuditSafely } from '@/lib/audit';
import { hasRole, type Caller } from '@/lib/auth/caller';
import { checkReauthentication } from '@/lib/auth/reauth';
import { getSessionInfo, signInPath, type SessionInfo } from '@/lib/auth/session';
import { getConfig } from '@/lib/config/load';
import { signInAgainPath } from './confirm-form-context';
import type { Role } from '@/lib/config/schema';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';

// The action builder every server action in lib/actions goes through, after dub's safe-action and
// saas-starter's validatedActionWithUser. An action is an entry point anyone can POST to with any
// arguments, so the builder does, in this order and for every action alike: resolve the caller from
// the session (never from the payload), check the role, validate the payload strictly (unknown fields,
// wrong types and oversized input are refused before any AWS call), check that the environment exists
// and that the typed confirmation names it, re-authenticate, and only then run the action. Every
// refusal is audited. Nothing thrown reaches the user: they get `{error}` for useActionState.

/** What a form's useActionState holds. Never carries what the user typed (the password above all). */
export interface ActionState {
  ok?: boolean;
  /** Shown to the user; written by the console, never echoing input. */
  error?: string;
  /** Where to sign in again when the error is about the session. */
  signInUrl?: string;
  message?: string;
}

/** Far above any honest form (a name, its confirmation, a password, an image tag), far below Next's 1 MB cap. */
export const MAX_ACTION_INPUT_BYTES = 4096;

const environmentName = z.string().regex(ENVIRONMENT_NAME_PATTERN, 'not an environment name');

/** The fields every dangerous environment action takes; actions may extend it (still strict). */
export const confirmedEnvironmentInput = z.strictObject({
  environment: environmentName,
  confirmEnvironment: z.string().max(64),
  /** Lab mode's re-authentication; absent under OIDC. */
  password: z.string().max(256).optional(),
});

export type ConfirmedEnvironmentInput = z.infer<typeof confirmedEnvironmentInput>;

export interface EnvironmentActionContext<Input> {
  caller: Caller;
  input: Input;
}

export interface EnvironmentActionDefinition<Schema extends z.ZodType<ConfirmedEnvironmentInput>> {
  /** The audit log's action name, e.g. "rotation.start". */
  action: string;
  /** For messages: "rotating the password needs operator". */
  what: string;
  role: Role;
  schema: Schema;
  /** Where the user comes back to after signing in again. */
  page: (environment: string) => string;
  /** Runs only after every check passed; its errors become `{error}` and a "failure" audit entry. */
  run: (ctx: EnvironmentActionContext<z.infer<Schema>>) => Promise<ActionState>;
}

/** What useActionState calls: (previous state, FormData) from the form — or anything a forged POST sends. */
export type EnvironmentAction = (previous: unknown, payload: unknown) => Promise<ActionState>;

class Refusal extends Error {
  constructor(
    /** For the user. */
    readonly userMessage: string,
    /** For the audit log; written by the console, never containing input. */
    readonly auditDetail: string,
    readonly signInUrl?: string,
  ) {
    super(userMessage);
    this.name = 'Refusal';
  }
}

export function environmentAction<Schema extends z.ZodType<ConfirmedEnvironmentInput>>(
  definition: EnvironmentActionDefinition<Schema>,
): EnvironmentAction {
  return async function runEnvironmentAction(_previous: unknown, payload: unknown): Promise<ActionState> {
    let session: SessionInfo | null = null;
    let environment: string | null = null;
    try {
      session = await getSessionInfo();
      const raw = payloadToObject(payload);
      environment = knownEnvironmentName(raw);
      if (!session) {
        throw new Refusal('Your session has ended. Sign in again, then repeat the action.', 'not signed in', signInPath(pageFor(definition, environment)));
      }
      const { caller } = session;
      const { id, role } = caller;
      if (!hasRole(caller, definition.role)) {
        throw new Refusal(`You are signed in as ${role}; ${definition.what} needs ${definition.role}.`, `${id} is ${role}; ${definition.what} needs ${definition.role}`);
      }
      const input = parseInput(definition.schema, raw);
      // The name passed the schema's pattern, so it is safe to repeat.
      const configured = getConfig().environments.find((e) => e.name === input.environment);
      if (!configured) throw new Refusal(`There is no environment named "${input.environment}".`, `no environment named "${input.environment}"`);
      environment = input.environment;
      if (configured.kind !== 'aws') {
        const why = `${input.environment} is a local environment; it has no RDS instance or backend fleet to act on`;
        throw new Refusal(`${why}.`, why);
      }
      if (input.confirmEnvironment !== input.environment) {
        throw new Refusal(
          `The confirmation does not match: type "${input.environment}" exactly to confirm.`,
          'the typed confirmation does not match the environment name',
        );
      }
      const reauth = checkReauthentication({
        mode: getConfig().mode,
        caller,
        password: input.password,
        authTime: session.authTime,
      });
      if (!reauth.ok) {
        const signInAgain = reauth.reason === 'stale-sign-in' ? signInAgainPath(definition.page(input.environment)) : undefined;
        throw new Refusal(reauth.message, `re-authentication failed: ${reauth.reason}`, signInAgain);
      }

      return await runChecked(definition, caller, input);
    } catch (err) {
      if (err instanceof Refusal) {
        await recordAuditSafely({
          ...auditActor(session?.caller),
          action: definition.action,
          environment,
          outcome: 'refused',
          detail: err.auditDetail,
        });
        return err.signInUrl ? { error: err.userMessage, signInUrl: err.signInUrl } : { error: err.userMessage };
      }
      return unexpected(definition, session?.caller ?? null, environment, err);
    }
  };
}

async function runChecked<Schema extends z.ZodType<ConfirmedEnvironmentInput>>(
  definition: EnvironmentActionDefinition<Schema>,
  caller: Caller,
  input: z.infer<Schema>,
): Promise<ActionState> {
  // The password has done its job; nothing after this point may see it, let alone log it.
  const { password: _password, ...rest } = input;
  return definition.run({ caller, input: rest as z.infer<Schema> });
}

async function unexpected(
  definition: EnvironmentActionDefinition<z.ZodType<ConfirmedEnvironmentInput>>,
  caller: Caller | null,
  environment: string | null,
  err: unknown,
): Promise<ActionState> {
  const ref = randomBytes(4).toString('hex');
  // The error's class and a reference only: a message from a driver can quote a connection string.
  const kind = err instanceof Error ? err.name : typeof err;
  console.error(`[action ${definition.action}] ${environment ?? '-'}: unexpected ${kind} (ref ${ref})`);
  await recordAuditSafely({
    ...auditActor(caller),
    action: definition.action,
    environment,
    outcome: 'failure',
    detail: `unexpected ${kind} in the console (ref ${ref})`,
  });
  return { error: `The console hit an unexpected problem and did nothing more (reference ${ref} in the server log). Try again, or check the audit log.` };
}

function pageFor(definition: { page: (environment: string) => string }, environment: string | null): string {
  return environment ? definition.page(environment) : '/';
}

/**
 * FormData (a form), or a plain object (a forged or scripted call), into one flat object of strings.
 * Files and repeated fields are refused: no honest form here sends either.
 */
export function payloadToObject(payload: unknown): Record<string, unknown> {
  if (payload instanceof FormData) {
    const out: Record<string, unknown> = {};
    let bytes = 0;
    for (const [key, value] of payload.entries()) {
      if (typeof value !== 'string') throw new Refusal('This form does not take files.', 'the request carried a file');
      bytes += Buffer.byteLength(key) + Buffer.byteLength(value);
      if (bytes > MAX_ACTION_INPUT_BYTES) throw tooLarge();
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
    if (size > MAX_ACTION_INPUT_BYTES) throw tooLarge();
    return payload as Record<string, unknown>;
  }
  throw new Refusal('The request is not a form this action understands.', 'the request was not a form');
}

function tooLarge(): Refusal {
  return new Refusal('The request is too large.', `the request was larger than ${MAX_ACTION_INPUT_BYTES} bytes`);
}

function parseInput<Schema extends z.ZodType<ConfirmedEnvironmentInput>>(schema: Schema, raw: Record<string, unknown>): z.infer<Schema> {
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
