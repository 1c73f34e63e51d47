import 'server-only';
import { getStore, type RedeployTable, type RotationTable } from '@/lib/store';
import type { InstanceRestartView, RedeployState, RotationState, StepView } from './types';

// The rotations and redeploys tables, each with this one writer. A rotation is written before and
// after every step, so a console that starts after a crash knows where to pick up; a redeploy after
// every instance, so any replica can show its progress.

// ---- rotations ----

export interface RotationRecord {
  id: string;
  environment: string;
  state: RotationState;
  startedBy: string;
  role: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  steps: StepView[];
  /** True once a failure leaves a pending password behind that RDS may hold. */
  rollbackOffered: boolean;
  pendingVersion: number | null;
}

interface PersistedProgress {
  steps: StepView[];
  rollbackOffered: boolean;
}

type StepList = ReadonlyArray<{ name: string; label: string }>;

function pendingSteps(list: StepList): StepView[] {
  return list.map((s) => ({ name: s.name, label: s.label, status: 'pending', startedAt: null, finishedAt: null, detail: null }));
}

export function newRotationRecord(id: string, environment: string, startedBy: string, role: string | null, steps: StepList): RotationRecord {
  const now = new Date().toISOString();
  return {
    id,
    environment,
    state: 'running',
    startedBy,
    role,
    startedAt: now,
    updatedAt: now,
    finishedAt: null,
    error: null,
    steps: pendingSteps(steps),
    rollbackOffered: false,
    pendingVersion: null,
  };
}

/** Appends (or re-arms, on a second attempt) the rollback's steps; each is idempotent. */
export function addSteps(record: RotationRecord, steps: StepList): void {
  for (const fresh of pendingSteps(steps)) {
    const existing = record.steps.find((x) => x.name === fresh.name);
    if (!existing) record.steps.push(fresh);
    else if (existing.status !== 'done') Object.assign(existing, fresh);
  }
}

export async function insertRotation(record: RotationRecord): Promise<void> {
  const store = await getStore();
  await store.db
    .insertInto('rotations')
    .values({
      id: record.id,
      environment: record.environment,
      state: record.state,
      started_by: record.startedBy,
      role: record.role,
      started_at: record.startedAt,
      updated_at: record.updatedAt,
      finished_at: record.finishedAt,
      error: record.error,
      steps: serialize(record),
      pending_version: record.pendingVersion,
    })
    .execute();
}

export async function saveRotation(record: RotationRecord): Promise<void> {
  record.updatedAt = new Date().toISOString();
  const store = await getStore();
  await store.db
    .updateTable('rotations')
    .set({
      state: record.state,
      updated_at: record.updatedAt,
      finished_at: record.finishedAt,
      error: record.error,
      steps: serialize(record),
      pending_version: record.pendingVersion,
    })
    .where('id', '=', record.id)
    .execute();
}

export async function latestRotation(environment: string): Promise<RotationRecord | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('rotations').selectAll().where('environment', '=', environment).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
  return row ? rotationFromRow(row) : null;
}

export async function unfinishedRotations(): Promise<RotationRecord[]> {
  const store = await getStore();
  const rows = await store.db.selectFrom('rotations').selectAll().where('state', 'in', ['running', 'rolling-back']).orderBy('started_at', 'asc').execute();
  return rows.map(rotationFromRow);
}

export function step(record: RotationRecord, name: string): StepView {
  const s = record.steps.find((x) => x.name === name);
  if (!s) throw new Error(`rotation ${record.id} has no step ${name}`);
  return s;
}

function serialize(record: RotationRecord): string {
  const progress: PersistedProgress = { steps: record.steps, rollbackOffered: record.rollbackOffered };
  return JSON.stringify(progress);
}

// PostgreSQL may hand an integer column back as a string; SQLite gives a number.
function rotationFromRow(row: Omit<RotationTable, 'pending_version'> & { pending_version: number | string | null }): RotationRecord {
  const progress = JSON.parse(row.steps) as PersistedProgress;
  return {
    id: row.id,
    environment: row.environment,
    state: row.state as RotationState,
    startedBy: row.started_by,
    role: row.role,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    error: row.error,
    steps: progress.steps,
    rollbackOffered: progress.rollbackOffered,
    pendingVersion: row.pending_version === null ? null : Number(row.pending_version),
  };
}

// ---- redeploys ----

export interface RedeployRecord {
  id: string;
  environment: string;
  state: RedeployState;
  startedBy: string;
  role: string | null;
  /** "operator", or "rotation <id>" when a rotation restarted the containers. */
  reason: string;
  imageTag: string | null;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
  error: string | null;
  instances: InstanceRestartView[];
}

export async function insertRedeploy(r: { id: string; environment: string; by: string; role: string | null; reason: string; imageTag: string | null }): Promise<void> {
  const store = await getStore();
  const now = new Date().toISOString();
  await store.db
    .insertInto('redeploys')
    .values({
      id: r.id,
      environment: r.environment,
      state: 'running',
      started_by: r.by,
      role: r.role,
      started_at: now,
      updated_at: now,
      finished_at: null,
      error: null,
      image_tag: r.imageTag,
      reason: r.reason,
      instances: '[]',
    })
    .execute();
}

/** Progress, or the end (any state but running) with its error. */
export async function saveRedeploy(id: string, state: RedeployState, change: { instances?: InstanceRestartView[]; error?: string | null }): Promise<void> {
  const store = await getStore();
  const now = new Date().toISOString();
  await store.db
    .updateTable('redeploys')
    .set({
      state,
      error: change.error ?? null,
      ...(change.instances ? { instances: JSON.stringify(change.instances) } : {}),
      updated_at: now,
      finished_at: state === 'running' ? null : now,
    })
    .where('id', '=', id)
    .execute();
}

export async function latestRedeploy(environment: string): Promise<RedeployRecord | null> {
  const store = await getStore();
  const row = await store.db.selectFrom('redeploys').selectAll().where('environment', '=', environment).orderBy('started_at', 'desc').limit(1).executeTakeFirst();
  return row ? redeployFromRow(row) : null;
}

export async function runningRedeploys(): Promise<RedeployRecord[]> {
  const store = await getStore();
  const rows = await store.db.selectFrom('redeploys').selectAll().where('state', '=', 'running').execute();
  return rows.map(redeployFromRow);
}

/** Closes a redeploy a dead console left "running", unless something finished it meanwhile. */
export async function abandonRedeploy(id: string, error: string): Promise<void> {
  const store = await getStore();
  const now = new Date().toISOString();
  await store.db.updateTable('redeploys').set({ state: 'failed', error, updated_at: now, finished_at: now }).where('id', '=', id).where('state', '=', 'running').execute();
}

function redeployFromRow(row: RedeployTable): RedeployRecord {
  return {
    id: row.id,
    environment: row.environment,
    state: row.state as RedeployState,
    startedBy: row.started_by,
    role: row.role,
    reason: row.reason,
    imageTag: row.image_tag,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
    error: row.error,
    instances: JSON.parse(row.instances) as InstanceRestartView[],
  };
}
