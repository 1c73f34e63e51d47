import 'server-only';
import { randomUUID } from 'node:crypto';
import { recordAuditSafely } from '@/lib/audit';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { createRedeployRecord, instanceTimings } from '@/lib/deploy';
import { runRollout } from '@/lib/deploy/rollout';
import {
  deletePending,
  describeDbInstance,
  describePasswordSlots,
  explainAwsError,
  isDefiniteRefusal,
  loginTarget,
  passwordName,
  pendingName,
  promotePassword,
  readPasswords,
  setMasterPassword,
  storePending,
  tryLogin,
} from './aws';
import type { HeldLock } from './lock';
import { generatePassword, PASSWORD_LENGTH } from './password';
import { saveRotation, step, type RotationRecord } from './record';
import { ROLLBACK_STEPS, ROTATION_STEPS, type RollbackStepName, type RotationStepName } from './types';

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

/** Shortens the bounded waits in tests that provoke a timeout on purpose. */
export function setRotationTimingsForTests(overrides: Partial<RotationTimings> | null): void {
  timings = overrides ? { ...DEFAULT_TIMINGS, ...overrides } : DEFAULT_TIMINGS;
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
  env: AwsEnvironmentConfig;
  record: RotationRecord;
  lock: HeldLock;
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

export const ROTATION_STEP_NAMES = ROTATION_STEPS.map((s) => s.name);
export const ROLLBACK_STEP_NAMES = ROLLBACK_STEPS.map((s) => s.name);

/** Runs the given steps in order, skipping those already done. Never throws. */
export async function runSteps(ctx: RunContext, names: readonly (RotationStepName | RollbackStepName)[]): Promise<PhaseOutcome> {
  for (const name of names) {
    const s = step(ctx.record, name);
    if (s.status === 'done' || s.status === 'skipped') continue;
    if (ctx.lock.lost) return { ok: false, lost: ctx.lock.lost };
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
      if (ctx.lock.lost) return { ok: false, lost: ctx.lock.lost };
      const message = err instanceof StepFailed ? err.message : `${s.label} failed: ${scrub(ctx, (err as Error).message ?? String(err))}`;
      s.status = 'failed';
      s.finishedAt = new Date().toISOString();
      s.detail = scrub(ctx, message);
      const rolling = ctx.record.state === 'rolling-back';
      ctx.record.rollbackOffered = rolling || (err instanceof StepFailed ? err.rollbackOffered : defaultRollbackOffer(ctx.record));
      for (const rest of ctx.record.steps) if (rest.status === 'pending') rest.status = 'skipped';
      await saveRotation(ctx.record);
      return { ok: false, error: scrub(ctx, message) };
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
  let out = text;
  for (const s of ctx.secrets) if (s) out = out.split(s).join('****');
  return out;
}

function remember(ctx: RunContext, ...values: (string | undefined | null)[]): void {
  for (const v of values) if (v && !ctx.secrets.includes(v)) ctx.secrets.push(v);
}

async function readSlots(ctx: RunContext) {
  try {
    const slots = await readPasswords(ctx.env);
    remember(ctx, slots.current?.value, slots.pending?.value);
    return slots;
  } catch (err) {
    throw new StepFailed(`could not read the passwords from SSM: ${explainAwsError(err, 'GetParameters', ctx.secrets)}`, defaultRollbackOffer(ctx.record));
  }
}

// ---- the rotation's steps ----

async function preflight(ctx: RunContext): Promise<string> {
  const { env } = ctx;
  let slots;
  try {
    slots = await describePasswordSlots(env);
  } catch (err) {
    throw new StepFailed(`could not read the password parameters: ${explainAwsError(err, 'DescribeParameters', [])}`, false);
  }
  if (!slots.current) throw new StepFailed(`${passwordName(env)} does not exist, so there is no current password to fall back to; create it first`, false);
  if (slots.pending) {
    throw new StepFailed(
      `${pendingName(env)} already exists (version ${slots.pending.version}): an earlier rotation did not finish. Roll it back first, so no password is lost`,
      false,
    );
  }
  let db;
  try {
    db = await describeDbInstance(env);
  } catch (err) {
    throw new StepFailed(`could not read RDS ${env.rdsInstanceId}: ${explainAwsError(err, 'DescribeDBInstances', [])}`, false);
  }
  if (db.status !== 'available') throw new StepFailed(`RDS ${env.rdsInstanceId} is ${db.status}; rotate when it is available`, false);
  if (db.pending.length > 0) {
    throw new StepFailed(`RDS ${env.rdsInstanceId} has modifications waiting to be applied (${db.pending.join(', ')}); rotate once they are applied`, false);
  }
  const notes = [`RDS ${env.rdsInstanceId} is available with nothing pending`];
  if (slots.current.type !== 'SecureString') notes.push(`${passwordName(env)} is a ${slots.current.type}; the new one is stored as a SecureString`);
  // A current password that does not log in is reported, not blocking: rotating is also the repair.
  try {
    const target = await loginTarget(env);
    const { current } = await readSlots(ctx);
    const login = current ? await tryLogin(target, current.value) : { ok: false as const, code: null, message: 'no value' };
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
    ctx.record.pendingVersion = await storePending(ctx.env, ctx.password);
  } catch (err) {
    const reason = explainAwsError(err, 'PutParameter', ctx.secrets);
    // The database was not touched; leave no half-written slot that would block the next rotation.
    await deletePending(ctx.env).catch(() => {});
    throw new StepFailed(`could not store the pending password in ${pendingName(ctx.env)}: ${reason}. RDS was not changed`, false);
  }
  return `stored as ${pendingName(ctx.env)} (SecureString, version ${ctx.record.pendingVersion})`;
}

async function pendingPassword(ctx: RunContext): Promise<string> {
  const { pending } = await readSlots(ctx);
  if (!pending) {
    throw new StepFailed(
      `${pendingName(ctx.env)} has disappeared; if RDS already took the new password it is lost. Check whether ${passwordName(ctx.env)} still logs in; if not, rotate again`,
      false,
    );
  }
  if (ctx.record.pendingVersion !== null && pending.version !== ctx.record.pendingVersion) {
    throw new StepFailed(
      `${pendingName(ctx.env)} is at version ${pending.version}, not the version ${ctx.record.pendingVersion} this rotation stored: someone else wrote it. Stopped without changing anything further`,
      true,
    );
  }
  return pending.value;
}

async function modifyDb(ctx: RunContext, resumed: boolean): Promise<string> {
  const pending = await pendingPassword(ctx);
  if (resumed) {
    // The crashed attempt may or may not have reached RDS: let any change settle, then look.
    await waitForAvailable(ctx, 'the change of the crashed attempt');
    if ((await tryLogin(await target(ctx), pending)).ok) return 'RDS already had the new password when the console resumed';
  }
  try {
    await setMasterPassword(ctx.env, pending);
  } catch (err) {
    const reason = explainAwsError(err, 'ModifyDBInstance', ctx.secrets);
    if (isDefiniteRefusal(err)) {
      await deletePending(ctx.env).catch(() => {});
      throw new StepFailed(`RDS refused the new password: ${reason}. The database is unchanged and the pending password was removed`, false);
    }
    throw new StepFailed(`RDS did not confirm the change: ${reason}. It may or may not have been applied; roll back to be sure`, true);
  }
  return `ModifyDBInstance accepted the new master password (ApplyImmediately) on ${ctx.env.rdsInstanceId}`;
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
      const db = await describeDbInstance(ctx.env);
      if (db.status === 'available' && !db.passwordChangePending) {
        return `RDS ${ctx.env.rdsInstanceId} is available with no pending password change after ${seconds(Date.now() - started)}`;
      }
      last = `${db.status}${db.passwordChangePending ? ', password change pending' : ''}`;
    } catch (err) {
      last = `could not ask: ${explainAwsError(err, 'DescribeDBInstances', ctx.secrets)}`;
    }
    if (Date.now() >= deadline || ctx.lock.lost) break;
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    // Backends holding the old password fail from the moment RDS applies the new one until we
    // promote it, so poll briskly while a reset usually completes, and back off only after that.
    if (Date.now() - started > BRISK_POLLING_MS) delay = Math.min(timings.pollMaxMs, delay * 2);
  }
  throw new StepFailed(
    `RDS ${ctx.env.rdsInstanceId} did not finish applying ${what} within ${seconds(timings.rdsWaitTimeoutMs)} (last seen: ${last})`,
    ctx.record.state === 'rolling-back' || defaultRollbackOffer(ctx.record),
  );
}

async function target(ctx: RunContext) {
  try {
    return await loginTarget(ctx.env);
  } catch (err) {
    throw new StepFailed(`could not find where to log in: ${explainAwsError(err, 'GetParameters', ctx.secrets)}`, defaultRollbackOffer(ctx.record));
  }
}

async function testLogin(ctx: RunContext, which: 'pending' | 'current'): Promise<string> {
  let password: string;
  if (which === 'pending') password = await pendingPassword(ctx);
  else {
    const { current } = await readSlots(ctx);
    if (!current) throw new StepFailed(`${passwordName(ctx.env)} has disappeared from SSM`, true);
    password = current.value;
  }
  const where = await target(ctx);
  const started = Date.now();
  const deadline = started + timings.loginTimeoutMs;
  let delay = timings.pollMinMs;
  let attempts = 0;
  while (true) {
    attempts++;
    const login = await tryLogin(where, password);
    if (login.ok) return `logged in as ${where.user} to ${where.database} on attempt ${attempts} (${seconds(Date.now() - started)})`;
    if (Date.now() >= deadline || ctx.lock.lost) {
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
    throw new StepFailed(`${pendingName(ctx.env)} disappeared before it was promoted; check which password RDS has before doing anything else`, false);
  }
  // Redoing a promotion that landed before a crash would only add a needless version.
  if (current && current.value === pending.value) return `already promoted: ${passwordName(ctx.env)} is version ${current.version}`;
  let version: number;
  try {
    version = await promotePassword(ctx.env, pending.value);
  } catch (err) {
    throw new StepFailed(`could not write ${passwordName(ctx.env)}: ${explainAwsError(err, 'PutParameter', ctx.secrets)}`, true);
  }
  ctx.record.rollbackOffered = false;
  return `${passwordName(ctx.env)} is now version ${version}`;
}

async function removePending(ctx: RunContext): Promise<string> {
  try {
    const result = await deletePending(ctx.env);
    return result === 'deleted' ? `deleted ${pendingName(ctx.env)}` : `${pendingName(ctx.env)} was already gone`;
  } catch (err) {
    throw new StepFailed(`could not delete ${pendingName(ctx.env)}: ${explainAwsError(err, 'DeleteParameter', ctx.secrets)}`, ctx.record.state === 'rolling-back');
  }
}

async function restart(ctx: RunContext): Promise<string> {
  const redeployId = randomUUID();
  await createRedeployRecord({
    id: redeployId,
    environment: ctx.env.name,
    by: ctx.record.startedBy,
    role: ctx.record.role,
    reason: `rotation ${ctx.record.id}`,
    imageTag: null,
  });
  const started = Date.now();
  const result = await runRollout(ctx.env, { redeployId, shouldStop: () => ctx.lock.lost });
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
  if (!current) throw new StepFailed(`${passwordName(ctx.env)} does not exist, so there is nothing to roll back to`, true);
  // RDS may still be applying the pending password; setting it back now would be refused.
  await waitForAvailable(ctx, 'the earlier change');
  if ((await tryLogin(await target(ctx), current.value)).ok) return `RDS already accepts the current password (${passwordName(ctx.env)} version ${current.version})`;
  try {
    await setMasterPassword(ctx.env, current.value);
  } catch (err) {
    throw new StepFailed(`RDS did not take the current password back: ${explainAwsError(err, 'ModifyDBInstance', ctx.secrets)}`, true);
  }
  return `ModifyDBInstance accepted the current password (${passwordName(ctx.env)} version ${current.version})`;
}

/** Milliseconds each finished step took, for the audit entry. */
export function stepTimings(record: RotationRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of record.steps) {
    if (s.startedAt && s.finishedAt) out[s.name] = Math.max(0, Date.parse(s.finishedAt) - Date.parse(s.startedAt));
  }
  return out;
}

/** Closes a run: final state, audit entry (never a secret), lock released. */
export async function finishRun(ctx: RunContext, outcome: PhaseOutcome, kind: 'rotation' | 'rollback'): Promise<void> {
  const { record, env } = ctx;
  try {
    if ('lost' in outcome) {
      // Another console took the work over; it owns the record now.
      console.error(`rotation ${record.id}: stopped here because ${outcome.lost}`);
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
    await saveRotation(record);
    const promoted = step(record, 'promote').detail;
    await recordAuditSafely({
      actor: record.startedBy,
      role: record.role,
      action: kind === 'rotation' ? 'rotation' : 'rotation.rollback',
      environment: env.name,
      outcome: outcome.ok ? 'success' : 'failure',
      detail: outcome.ok
        ? kind === 'rotation'
          ? `rotation ${record.id} complete: ${promoted ?? 'password promoted'}; containers restarted`
          : `rotation ${record.id} rolled back: RDS uses ${passwordName(env)} again`
        : `rotation ${record.id}: ${outcome.error}`,
      stepTimings: stepTimings(record),
    });
  } finally {
    await ctx.lock.release().catch((err) => console.error(`rotation ${record.id}: releasing the lock failed: ${(err as Error).message}`));
  }
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
