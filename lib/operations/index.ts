import 'server-only';

// The bottom of the dangerous side: the console-wide lock, the rotation and redeploy records (one
// writer per table), the rolling restart, and the one audited way an operation begins and ends.
// lib/rotation (the rotation's steps) and lib/deploy (the operator's redeploy) sit above it and never
// import each other. A person's operation starts with beginOperation; the scheduler's with
// ./system.ts, which only the watcher may import.

export { beginOperation, finishOperation, refuseOperation, takeOverOperation, unfinishedRotation, awsEnvironment, type Begun, type OperationRequest } from './begin';
export { assertGrant, type OperationGrant } from './grant';
export { currentLock, LOCK_LEASE_MS, type HeldLock, type LockHolder } from './lock';
export * from './records';
export { instanceTimings, runRollout, setRolloutTimingsForTests, type RolloutResult, type RolloutTimings } from './rollout';
export type * from './types';
export { closeAbandonedRedeploys, getOperationState, liveLock, type OperationState } from './state';
