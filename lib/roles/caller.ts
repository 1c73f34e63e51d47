import type { Role } from '@/lib/config/schema';

// Who is asking. Every server action, route handler and data function takes a Caller and checks it
// itself: the proxy only redirects, and a page's check does not cover the actions on it.

export interface Caller {
  /** The email of a signed-in user, or `token:<name>` for an API token. */
  id: string;
  role: Role;
  via: 'session' | 'token';
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export class AuthorizationError extends Error {
  constructor(
    readonly needed: Role,
    readonly caller: Caller | null,
  ) {
    super(caller ? `${caller.id} is ${caller.role}; this needs ${needed}` : 'sign in first');
    this.name = 'AuthorizationError';
  }
}

export function hasRole(caller: Caller | null | undefined, needed: Role): caller is Caller {
  return !!caller && RANK[caller.role] >= RANK[needed];
}

export function assertRole(caller: Caller | null | undefined, needed: Role): asserts caller is Caller {
  if (!hasRole(caller, needed)) throw new AuthorizationError(needed, caller ?? null);
}
