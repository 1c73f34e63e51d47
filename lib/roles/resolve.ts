import type { ConsoleConfig, Role } from '@/lib/config/schema';

// Roles come from the config (emails, or "group:NAME" for a group in the IdP's groups claim), never
// from the IdP or the browser alone. A session's role is resolved again on every request from the
// config as the file says now (lib/config/load.ts re-reads it when it changes), so removing someone
// from `roles` takes their role away at their next request.

export interface Principal {
  /** An email the IdP has verified (sign-in refuses the others). */
  email: string;
  /** Group names from the IdP's groups claim at sign-in. */
  groups: readonly string[];
}

const ORDER: Role[] = ['admin', 'operator', 'viewer'];

/** The highest role the config grants this principal, or null when it grants none. */
export function resolveRole(roles: ConsoleConfig['roles'], principal: Principal): Role | null {
  const email = principal.email.trim().toLowerCase();
  const groups = new Set(principal.groups);
  for (const role of ORDER) {
    const granted = roles[role].some((entry) => {
      if (entry.startsWith('group:')) return groups.has(entry.slice('group:'.length));
      return email !== '' && entry.trim().toLowerCase() === email;
    });
    if (granted) return role;
  }
  return null;
}
