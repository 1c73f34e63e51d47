import type { ConsoleConfig, Role } from '@/lib/config/schema';

// Roles come from the config (emails, or "group:NAME" for an IdP group claim), never from the IdP
// or the browser alone. A session's role is resolved again on every request from the config the
// process holds (lib/config/load.ts), so the config always wins over what was true at sign-in.

export interface Principal {
  email: string;
  /** Group names from the IdP's `groups` claim; empty for lab accounts. */
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

/** Which sign-in produced a session: the lab's local accounts or the organisation's IdP. */
export type SignInProvider = 'lab' | 'oidc';

/**
 * The role a session has right now: the config's, for every provider alike (the lab writes its three
 * accounts into its config). A lab account has none once the console runs in mode "aws".
 */
export function roleForSession(config: Pick<ConsoleConfig, 'mode' | 'roles'>, principal: Principal, provider: SignInProvider): Role | null {
  if (provider === 'lab' && config.mode !== 'lab') return null;
  return resolveRole(config.roles, principal);
}
