import 'server-only';
import { getStore, type RotationTable } from '@/lib/audit/store';
import { ROLLBACK_STEPS, ROTATION_STEPS, type RotationState, type StepView } from './types';

// A rotation as persisted: the steps with their status, and whether rollback is offered. Written
// before and after every step, so a console that starts after a crash knows where to pick up.

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

export function newRotationRecord(id: string, environment: string, startedBy: string, role: string | null): RotationRecord {
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
    steps: ROTATION_STEPS.map((s) => ({ name: s.name, label: s.label, status: 'pending', startedAt: null, finishedAt: null, detail: null })),
    rollbackOffered: false,
    pendingVersion: null,
  };
}

export function addRollbackSteps(record: RotationRecord): void {
  for (const s of ROLLBACK_STEPS) {
    const existing = record.steps.find((x) => x.name === s.name);
    if (existing) {
      // A second rollback attempt redoes what did not finish; each rollback step is idempotent.
      if (existing.status !== 'done') Object.assign(existing, { status: 'pending', startedAt: null, finishedAt: null, detail: null });
    } else {
      record.steps.push({ name: s.name, label: s.label, status: 'pending', startedAt: null, finishedAt: null, detail: null });
    }
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
  const row = await store.db
    .selectFrom('rotations')
    .selectAll()
    .where('environment', '=', environment)
    .orderBy('started_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? fromRow(row) : null;
}

export async function unfinishedRotations(): Promise<RotationRecord[]> {
  const store = await getStore();
  const rows = await store.db.selectFrom('rotations').selectAll().where('state', 'in', ['running', 'rolling-back']).orderBy('started_at', 'asc').execute();
  return rows.map(fromRow);
}

function serialize(record: RotationRecord): string {
  const progress: PersistedProgress = { steps: record.steps, rollbackOffered: record.rollbackOffered };
  return JSON.stringify(progress);
}

// PostgreSQL may hand an integer column back as a string; SQLite gives a number.
function fromRow(row: Omit<RotationTable, 'pending_version'> & { pending_version: number | string | null }): RotationRecord {
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

export function step(record: RotationRecord, name: string): StepView {
  const s = record.steps.find((x) => x.name === name);
  if (!s) throw new Error(`rotation ${record.id} has no step ${name}`);
  return s;
}
