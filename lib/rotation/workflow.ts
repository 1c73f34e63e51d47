import 'server-only';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeAwsError } from '@/lib/aws/errors';
import {
  deletePendingSlot,
  describePasswordSlots,
  parameterName,
  pendingPasswordName,
  readLinkboxParameters,
  readPasswordSlots,
  writePasswordSlot,
} from '@/lib/aws/parameters';
import { describeDatabaseInstance, passwordChangePending, setMasterPassword } from '@/lib/aws/rds';
import { invalidateAfterWrite, type WrittenRead } from '@/lib/aws/readers';
import { loginTargetFor, loginToDatabase, type DatabaseTarget } from '@/lib/db/login';
import { assertGrant, finishOperation, insertRedeploy, instanceTimings, runRollout, saveRotation, step, type OperationGrant, type RotationRecord } from '@/lib/operations';
import { redact } from '@/lib/redact';
import { generatePassword, PASSWORD_LENGTH } from './password';
import type { RollbackStepName, RotationStepName } from './types';

// The safe order of DESIGN.md "Rotation", one idempotent step at a time. Each step's status is
// persisted before it starts and after it ends; a step found "running" after a crash is redone in
// its resume form, which first finds out how far the crashed attempt got. The pending SSM slot is
// the write-ahead record: from the moment RDS may hold a new password, SSM holds it too.

export interface RotationTimings {
  /** How long RDS may take to become available with no pending password change. */
  rdsWaitTimeoutMs: number;
  /** How long a login with a freshly set password may keep failing (the change is asynchronous). */
  loginTimeoutMs: number;
  pollMinMs: number;
  pollMaxMs: number;
}

const DEFAULT_TIMINGS: RotationTimings = { rdsWaitTimeoutMs: 300_000, loginTimeoutMs: 120_000, pollMinMs: 1000, pollMaxMs: 5000 };
let timings: RotationTimings = DEFAULT_TIMINGS;

/** Shorter waits for tests that keep a login failing on purpose; null restores the defaults. */
export function setRotationTimingsForTests(overrides: Partial<RotationTimings> | null): void {
  timings = { ...DEFAULT_TIMINGS, ...overrides };
}

/** A step that stopped the rotation, with what the operator may do next. */
export class StepFailed extends Error {
  constructor(
    message: string,
    /** Whether RDS may hold the pending password, so setting it back is the way out. */
    readonly rollbackOffered: boolean,
  ) {
    super(message);
    this.name = 'StepFailed';
  }
}

export interface RunContext {
  /** The environment, the lock and who acts: issued by lib/operations. */
  grant: OperationGrant;
  record: RotationRecord;
  /** The new password between generate and store-pending; afterwards it is read back from SSM. */
  password?: string;
  /** Every password this run has held, so no error text can carry one. */
  secrets: string[];
}

export type PhaseOutcome = { ok: true } | { ok: false; error: string } | { ok: false; lost: string };

type StepImpl = (ctx: RunContext, resumed: boolean) => Promise<string>;

const ROTATION_IMPL: Record<RotationStepName, StepImpl> = {
  preflight,
  generate,
  'store-pending': storePendingStep,
  'modify-db': modifyDb,
  'wait-available': async (ctx) => waitForAvailable(ctx, 'the new password'),
  'test-login': async (ctx) => testLogin(ctx, 'pending'),
  promote,
  'remove-pending': removePending,
  restart,
};

const ROLLBACK_IMPL: Record<RollbackStepName, StepImpl> = {
  'rollback-modify-db': rollbackModifyDb,
  'rollback-wait': async (ctx) => waitForAvailable(ctx, 'the current password'),
  'rollback-test-login': async (ctx) => testLogin(ctx, 'current'),
  'rollback-remove-pending': removePending,
};

/** What a step changes that the status shows: read afresh after it, so the operator sees it at once (the restart's rollout does its own). */
const CHANGES: Partial<Record<RotationStepName | RollbackStepName, WrittenRead[]>> = {
  'store-pending': ['parameters'],
  'modify-db': ['db-instance', 'parameters'],
  'wait-available': ['db-instance'],
  promote: ['parameters'],
  'remove-pending': ['parameters'],
  'rollback-modify-db': ['db-instance'],
  'rollback-wait': ['db-instance'],
  'rollback-remove-pending': ['parameters'],
};

/** Runs the given steps in order, skipping those already done. Never throws. */
export async function runSteps(ctx: RunContext, names: readonly (RotationStepName | RollbackStepName)[]): Promise<PhaseOutcome> {
  assertGrant(ctx.grant);
  const lock = ctx.grant.lock;
  for (const name of names) {
    const s = step(ctx.record, name);
    if (s.status === 'done' || s.status === 'skipped') continue;
    if (lock.lost) return { ok: false, lost: lock.lost };
    const resumed = s.status === 'running';
    s.status = 'running';
    s.startedAt ??= new Date().toISOString();
    s.finishedAt = null;
    await saveRotation(ctx.record);
    try {
      const impl = (ROTATION_IMPL as Record<string, StepImpl>)[name] ?? (ROLLBACK_IMPL as Record<string, StepImpl>)[name];
      if (!impl) throw new Error(`unknown step ${name}`);
      s.detail = await impl(ctx, resumed);
      s.status = 'done';
      s.finishedAt = new Date().toISOString();
      await saveRotation(ctx.record);
    } catch (err) {
      if (lock.lost) return { ok: false, lost: lock.lost };
      const message = err instanceof StepFailed ? err.message : `${s.label} failed: ${scrub(ctx, (err as Error).message ?? String(err))}`;
      s.status = 'failed';
      s.finishedAt = new Date().toISOString();
      s.detail = scrub(ctx, message);
      const rolling = ctx.record.state === 'rolling-back';
      ctx.record.rollbackOffered = rolling || (err instanceof StepFailed ? err.rollbackOffered : defaultRollbackOffer(ctx.record));
      for (const rest of ctx.record.steps) if (rest.status === 'pending') rest.status = 'skipped';
      await saveRotation(ctx.record);
      return { ok: false, error: scrub(ctx, message) };
    } finally {
      const changed = CHANGES[name];
      if (changed) invalidateAfterWrite(ctx.grant.env, changed);
    }
  }
  return { ok: true };
}

/** Before promotion and once the pending slot may exist, RDS may hold the new password. */
function defaultRollbackOffer(record: RotationRecord): boolean {
  const stored = step(record, 'store-pending').status;
  return (stored === 'done' || stored === 'failed' || stored === 'running') && step(record, 'promote').status !== 'done';
}

function scrub(ctx: RunContext, text: string): string {
  return redact(text, ctx.secrets);
}

function remember(ctx: RunContext, ...values: (string | undefined | null)[]): void {
  for (const v of values) if (v && !ctx.secrets.includes(v)) ctx.secrets.push(v);
}

async function readSlots(ctx: RunContext) {
  try {
    const slots = await readPasswordSlots(ctx.grant.env);
    remember(ctx, slots.current?.value, slots.pending?.value);
    return slots;
  } catch (err) {
    throw new StepFailed(`could not read the passwords from SSM: ${explain(err, 'GetParameters', ctx.secrets)}`, defaultRollbackOffer(ctx.record));
  }
}

// ---- the rotation's steps ----

async function preflight(ctx: RunContext): Promise<string> {
  const { env } = ctx.grant;
  let slots;
  try {
    slots = await describePasswordSlots(env);
  } catch (err) {
    throw new StepFailed(`could not read the password parameters: ${explain(err, 'DescribeParameters', [])}`, false);
  }
  if (!slots.current) throw new StepFailed(`${currentName(env)} does not exist, so there is no current password to fall back to; create it first`, false);
  if (slots.pending) {
    throw new StepFailed(
      `${pendingPasswordName(env)} already exists (version ${slots.pending.version}): an earlier rotation did not finish. Roll it back first, so no password is lost`,
      false,
    );
  }
  let db;
  try {
    db = await describeDatabaseInstance(env);
  } catch (err) {
    throw new StepFailed(`could not read RDS ${env.rdsInstanceId}: ${explain(err, 'DescribeDBInstances', [])}`, false);
  }
  if (!db) throw new StepFailed(`RDS reports no instance ${env.rdsInstanceId}`, false);
  if (db.status !== 'available') throw new StepFailed(`RDS ${env.rdsInstanceId} is ${db.status ?? 'in an unknown state'}; rotate when it is available`, false);
  if (db.pendingModifications.length > 0) {
    throw new StepFailed(`RDS ${env.rdsInstanceId} has modifications waiting to be applied (${db.pendingModifications.join(', ')}); rotate once they are applied`, false);
  }
  const notes = [`RDS ${env.rdsInstanceId} is available with nothing pending`];
  if (slots.current.type !== 'SecureString') notes.push(`${currentName(env)} is a ${slots.current.type}; the new one is stored as a SecureString`);
  // A current password that does not log in is reported, not blocking: rotating is also the repair.
  try {
    const where = await target(ctx);
    const { current } = await readSlots(ctx);
    const login = current ? await tryLogin(ctx, where, current.value) : { ok: false as const, message: 'no value' };
    notes.push(login.ok ? 'the current password logs in' : `the current password does not log in (${login.message}); the rotation will repair that`);
  } catch (err) {
    notes.push(`could not test the current password (${err instanceof StepFailed ? err.message : scrub(ctx, (err as Error).message)})`);
  }
  return notes.join('; ');
}

async function generate(ctx: RunContext): Promise<string> {
  ctx.password = generatePassword();
  remember(ctx, ctx.password);
  return `${PASSWORD_LENGTH} random letters, digits and -_.~, checked against RDS's rules and safe in a URL`;
}

async function storePendingStep(ctx: RunContext): Promise<string> {
  // After a crash the generated password is gone from memory; nothing used it yet, so make another.
  if (!ctx.password) {
    ctx.password = generatePassword();
    remember(ctx, ctx.password);
  }
  try {
    ctx.record.pendingVersion = await writePasswordSlot(ctx.grant.env, 'pending', ctx.password);
  } catch (err) {
    const reason = explain(err, 'PutParameter', ctx.secrets);
    // The database was not touched; leave no half-written slot that would block the next rotation.
    await deletePendingSlot(ctx.grant.env).catch(() => {});
    throw new StepFailed(`could not store the pending password in ${pendingPasswordName(ctx.grant.env)}: ${reason}. RDS was not changed`, false);
  }
  return `stored as ${pendingPasswordName(ctx.grant.env)} (SecureString, version ${ctx.record.pendingVersion})`;
}

async function pendingPassword(ctx: RunContext): Promise<string> {
  const { pending } = await readSlots(ctx);
  if (!pending) {
    throw new StepFailed(
      `${pendingPasswordName(ctx.grant.env)} has disappeared; if RDS already took the new password it is lost. Check whether ${currentName(ctx.grant.env)} still logs in; if not, rotate again`,
      false,
    );
  }
  if (ctx.record.pendingVersion !== null && pending.version !== ctx.record.pendingVersion) {
    throw new StepFailed(
      `${pendingPasswordName(ctx.grant.env)} is at version ${pending.version}, not the version ${ctx.record.pendingVersion} this rotation stored: someone else wrote it. Stopped without changing anything further`,
      true,
    );
  }
  return pending.value;
}

async function modifyDb(ctx: RunContext, resumed: boolean): Promise<string> {
  const pending = await pendingPassword(ctx);
  if (resumed) {
    // The crashed attempt may or may not have reached RDS: let any change settle, then prove which password RDS holds.
    await waitForAvailable(ctx, 'the change of the crashed attempt');
    const held = await passwordRdsAccepts(ctx, pending);
    if (held.which === 'pending') return 'RDS already had the new password when the console resumed';
    if (held.which === 'neither') throw neitherLogsIn(ctx, 'after the console resumed', held.reason);
  }
  try {
    await setMasterPassword(ctx.grant.env, pending);
  } catch (err) {
    const reason = explain(err, 'ModifyDBInstance', ctx.secrets);
    if (!resumed && isDefiniteRefusal(err)) {
      await deletePendingSlot(ctx.grant.env).catch(() => {});
      throw new StepFailed(`RDS refused the new password (${reason}). The database is unchanged and the pending password was removed`, false);
    }
    return proveUnansweredChange(ctx, pending, reason);
  }
  return `ModifyDBInstance accepted the new master password (ApplyImmediately) on ${ctx.grant.env.rdsInstanceId}`;
}

/**
 * ModifyDBInstance failed, but an earlier attempt may have landed (a lost answer the SDK retried, or
 * the attempt of a console that crashed): only a login proves what RDS holds. The pending slot goes
 * only once the current password is proven to log in; until then both passwords are kept.
 */
async function proveUnansweredChange(ctx: RunContext, pending: string, reason: string): Promise<string> {
  await waitForAvailable(ctx, 'whatever the unanswered ModifyDBInstance did');
  const held = await passwordRdsAccepts(ctx, pending);
  if (held.which === 'pending') return `ModifyDBInstance did not answer cleanly (${reason}), but the new password logs in: RDS took it`;
  if (held.which === 'neither') throw neitherLogsIn(ctx, `after ModifyDBInstance failed (${reason})`, held.reason);
  await deletePendingSlot(ctx.grant.env).catch(() => {});
  throw new StepFailed(
    `RDS did not take the new password (${reason}). The current password still logs in, so the database is unchanged and the pending password was removed`,
    false,
  );
}

function neitherLogsIn(ctx: RunContext, when: string, reason: string): StepFailed {
  return new StepFailed(
    `neither the pending nor the current password logs in ${when} (${scrub(ctx, reason)}). Both are kept in SSM; once the database answers again, roll back (it proves which password RDS holds first)`,
    true,
  );
}

/**
 * Which stored password RDS accepts, proven by logging in (pending first). A login that fails for
 * another reason than the password (the network, a timeout) is tried again until the login timeout.
 */
async function passwordRdsAccepts(ctx: RunContext, pending: string): Promise<{ which: 'pending' | 'current' } | { which: 'neither'; reason: string }> {
  const where = await target(ctx);
  const { current } = await readSlots(ctx);
  const deadline = Date.now() + timings.loginTimeoutMs;
  let delay = timings.pollMinMs;
  for (;;) {
    const withPending = await tryLogin(ctx, where, pending);
    if (withPending.ok) return { which: 'pending' };
    const withCurrent = current ? await tryLogin(ctx, where, current.value) : { ok: false as const, code: 'missing', message: `${currentName(ctx.grant.env)} does not exist` };
    if (withCurrent.ok) return { which: 'current' };
    const refusedBoth = withPending.code === '28P01' && withCurrent.code === '28P01';
    if (refusedBoth || Date.now() >= deadline || ctx.grant.lock.lost) {
      return { which: 'neither', reason: `pending: ${withPending.message}; current: ${withCurrent.message}` };
    }
    await sleep(delay);
    delay = Math.min(timings.pollMaxMs, delay * 2);
  }
}

/** How long the wait for RDS polls at the shortest interval before it backs off. */
const BRISK_POLLING_MS = 60_000;

async function waitForAvailable(ctx: RunContext, what: string): Promise<string> {
  const started = Date.now();
  const deadline = started + timings.rdsWaitTimeoutMs;
  let delay = timings.pollMinMs;
  let last = 'not asked yet';
  // The first look waits a little: right after ModifyDBInstance RDS may still say "available".
  await sleep(delay);
  while (true) {
    try {
      const db = await describeDatabaseInstance(ctx.grant.env);
      if (!db) throw new Error(`RDS reports no instance ${ctx.grant.env.rdsInstanceId}`);
      if (db.status === 'available' && !passwordChangePending(db)) {
        return `RDS ${ctx.grant.env.rdsInstanceId} is available with no pending password change after ${seconds(Date.now() - started)}`;
      }
      last = `${db.status}${passwordChangePending(db) ? ', password change pending' : ''}`;
    } catch (err) {
      last = `could not ask: ${explain(err, 'DescribeDBInstances', ctx.secrets)}`;
    }
    if (Date.now() >= deadline || ctx.grant.lock.lost) break;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    // Backends holding the old password fail from the moment RDS applies the new one until we
    // promote it, so poll briskly while a reset usually completes, and back off only after that.
    if (Date.now() - started > BRISK_POLLING_MS) delay = Math.min(timings.pollMaxMs, delay * 2);
  }
  throw new StepFailed(
    `RDS ${ctx.grant.env.rdsInstanceId} did not finish applying ${what} within ${seconds(timings.rdsWaitTimeoutMs)} (last seen: ${last})`,
    ctx.record.state === 'rolling-back' || defaultRollbackOffer(ctx.record),
  );
}

/** Where to log in (lib/db's one rule): the SSM user and database at the endpoint RDS reports, read afresh. */
async function target(ctx: RunContext): Promise<DatabaseTarget> {
  const { env } = ctx.grant;
  let params;
  let db;
  try {
    [params, db] = await Promise.all([readLinkboxParameters(env).then((p) => p.parameters), describeDatabaseInstance(env)]);
  } catch (err) {
    throw new StepFailed(`could not find where to log in: ${explain(err, 'GetParameters and DescribeDBInstances', ctx.secrets)}`, defaultRollbackOffer(ctx.record));
  }
  const where = loginTargetFor(env, {
    user: params['db-username']?.value,
    database: params['db-name']?.value,
    rdsEndpoint: db && { address: db.endpointAddress, port: db.endpointPort },
  });
  if (!where.ok) {
    const what = where.missing.map((k) => (k === 'rds-endpoint' ? `RDS reports no endpoint for ${env.rdsInstanceId}` : `SSM is missing ${k} under ${env.parameterPrefix}`));
    throw new StepFailed(`could not find where to log in: ${what.join('; ')}`, defaultRollbackOffer(ctx.record));
  }
  return where.target;
}

/** One login attempt; its error text is scrubbed of every password this run has held. */
async function tryLogin(ctx: RunContext, where: DatabaseTarget, password: string): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const result = await loginToDatabase(where, password);
  return result.ok ? { ok: true } : { ok: false, code: result.error?.code ?? 'unknown', message: scrub(ctx, result.error?.message ?? 'login failed') };
}

/** An operator-readable reason for a failed AWS call, never containing the given secrets. */
function explain(err: unknown, action: string, secrets: string[]): string {
  return describeAwsError(err, { action, redact: secrets }).message;
}

function currentName(env: OperationGrant['env']): string {
  return parameterName(env, 'db-password');
}

/**
 * RDS refused the only request this rotation sent: a 4xx on the SDK's first attempt. A 4xx after a
 * retry may answer a re-sent call whose first copy landed (InvalidDBInstanceState while resetting).
 */
function isDefiniteRefusal(err: unknown): boolean {
  const meta = (err as { $metadata?: { httpStatusCode?: number; attempts?: number } }).$metadata;
  const status = meta?.httpStatusCode;
  return meta?.attempts === 1 && status !== undefined && status >= 400 && status < 500;
}

async function testLogin(ctx: RunContext, which: 'pending' | 'current'): Promise<string> {
  let password: string;
  if (which === 'pending') password = await pendingPassword(ctx);
  else {
    const { current } = await readSlots(ctx);
    if (!current) throw new StepFailed(`${currentName(ctx.grant.env)} has disappeared from SSM`, true);
    password = current.value;
  }
  const where = await target(ctx);
  const started = Date.now();
  const deadline = started + timings.loginTimeoutMs;
  let delay = timings.pollMinMs;
  let attempts = 0;
  while (true) {
    attempts++;
    const login = await tryLogin(ctx, where, password);
    if (login.ok) return `logged in as ${where.user} to ${where.database} on attempt ${attempts} (${seconds(Date.now() - started)})`;
    if (Date.now() >= deadline || ctx.grant.lock.lost) {
      throw new StepFailed(
        `the ${which} password does not log in after ${attempts} attempts over ${seconds(Date.now() - started)}: ${scrub(ctx, login.message)}`,
        true,
      );
    }
    await sleep(delay);
    delay = Math.min(timings.pollMaxMs, delay * 2);
  }
}

async function promote(ctx: RunContext): Promise<string> {
  const { current, pending } = await readSlots(ctx);
  if (!pending) {
    throw new StepFailed(`${pendingPasswordName(ctx.grant.env)} disappeared before it was promoted; check which password RDS has before doing anything else`, false);
  }
  // Redoing a promotion that landed before a crash would only add a needless version.
  if (current && current.value === pending.value) return `already promoted: ${currentName(ctx.grant.env)} is version ${current.version}`;
  let version: number;
  try {
    version = await writePasswordSlot(ctx.grant.env, 'current', pending.value);
  } catch (err) {
    throw new StepFailed(`could not write ${currentName(ctx.grant.env)}: ${explain(err, 'PutParameter', ctx.secrets)}`, true);
  }
  ctx.record.rollbackOffered = false;
  return `${currentName(ctx.grant.env)} is now version ${version}`;
}

async function removePending(ctx: RunContext): Promise<string> {
  try {
    const result = await deletePendingSlot(ctx.grant.env);
    return result === 'deleted' ? `deleted ${pendingPasswordName(ctx.grant.env)}` : `${pendingPasswordName(ctx.grant.env)} was already gone`;
  } catch (err) {
    throw new StepFailed(`could not delete ${pendingPasswordName(ctx.grant.env)}: ${explain(err, 'DeleteParameter', ctx.secrets)}`, ctx.record.state === 'rolling-back');
  }
}

async function restart(ctx: RunContext): Promise<string> {
  const redeployId = randomUUID();
  await insertRedeploy({
    id: redeployId,
    environment: ctx.grant.env.name,
    by: ctx.record.startedBy,
    role: ctx.record.role,
    reason: `rotation ${ctx.record.id}`,
    imageTag: null,
  });
  const started = Date.now();
  const result = await runRollout(ctx.grant.env, { redeployId, shouldStop: () => ctx.grant.lock.lost });
  if (!result.ok) {
    throw new StepFailed(
      `the new password is in place in SSM and RDS, but the ${result.error}. Fix that instance, then use "Restart containers" to finish`,
      false,
    );
  }
  const timingsByInstance = instanceTimings(result.instances, started);
  delete timingsByInstance.total;
  return `restarted ${result.instances.length} instance(s) one at a time; each answered /health 200 (${Object.entries(timingsByInstance)
    .map(([id, ms]) => `${id} ${seconds(ms)}`)
    .join(', ')})`;
}

// ---- rollback ----

async function rollbackModifyDb(ctx: RunContext): Promise<string> {
  const { current } = await readSlots(ctx);
  if (!current) throw new StepFailed(`${currentName(ctx.grant.env)} does not exist, so there is nothing to roll back to`, true);
  // RDS may still be applying the pending password; setting it back now would be refused.
  await waitForAvailable(ctx, 'the earlier change');
  if ((await tryLogin(ctx, await target(ctx), current.value)).ok) return `RDS already accepts the current password (${currentName(ctx.grant.env)} version ${current.version})`;
  try {
    await setMasterPassword(ctx.grant.env, current.value);
  } catch (err) {
    throw new StepFailed(`RDS did not take the current password back: ${explain(err, 'ModifyDBInstance', ctx.secrets)}`, true);
  }
  return `ModifyDBInstance accepted the current password (${currentName(ctx.grant.env)} version ${current.version})`;
}

/** Milliseconds each finished step took, for the audit entry. */
export function stepTimings(record: RotationRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of record.steps) {
    if (s.startedAt && s.finishedAt) out[s.name] = Math.max(0, Date.parse(s.finishedAt) - Date.parse(s.startedAt));
  }
  return out;
}

/** Closes a run: final state, audit entry in the name of whoever started it (never a secret), lock released. */
export async function finishRun(ctx: RunContext, outcome: PhaseOutcome, kind: 'rotation' | 'rollback'): Promise<void> {
  const { record, grant } = ctx;
  if ('lost' in outcome) {
    // Another console took the work over; it owns the record and the lock now.
    console.error(`rotation ${record.id}: stopped here because ${outcome.lost}`);
    await grant.lock.release().catch(() => {});
    return;
  }
  record.finishedAt = new Date().toISOString();
  if (outcome.ok) {
    record.state = kind === 'rotation' ? 'completed' : 'rolled-back';
    record.rollbackOffered = false;
    record.error = null;
  } else {
    record.state = 'failed';
    record.error = outcome.error;
  }
  try {
    await saveRotation(record);
  } finally {
    const promoted = step(record, 'promote').detail;
    await finishOperation(grant, {
      action: kind === 'rotation' ? 'rotation' : 'rotation.rollback',
      outcome: outcome.ok ? 'success' : 'failure',
      detail: outcome.ok
        ? kind === 'rotation'
          ? `rotation ${record.id} complete: ${promoted ?? 'password promoted'}; containers restarted`
          : `rotation ${record.id} rolled back: RDS uses ${currentName(grant.env)} again`
        : `rotation ${record.id}: ${outcome.error}`,
      stepTimings: stepTimings(record),
      onBehalfOf: { actor: record.startedBy, role: record.role },
    });
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

