import 'server-only';
import { awsEnvironment, lockFor, refuseOperation, type Begun, type OperationRequest } from './begin';

// The console's own entry point for operations no person starts (a scheduled rotation): the same
// lock, the same stuck-rotation rule and the same audit as a person's, but no role, typed
// confirmation or re-authentication, because nobody is there to give them. ESLint lets only the
// watcher import this file: no route, page or server action can reach it.

export const SYSTEM_ACTOR = { actor: 'console:scheduler', role: 'system' } as const;

export async function beginSystemOperation(environment: string, request: Omit<OperationRequest, 'confirmEnvironment' | 'what'>): Promise<Begun> {
  const refuse = (error: string, heldBy?: { by: string; since: string }) => refuseOperation(SYSTEM_ACTOR, request.action, environment, error, heldBy);
  const env = awsEnvironment(environment);
  if (!env.ok) return refuse(env.error);
  return lockFor(env.config, SYSTEM_ACTOR, request, refuse);
}
