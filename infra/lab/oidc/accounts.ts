import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// The people of the lab's identity provider, the only place the lab accounts and their passwords
// (LAB_*_PASSWORD) live: the console signs them in through this provider. The fourth has
// an email the IdP has not verified: the lab's console config lists that email as a viewer, so a
// console that honours `email_verified` can be seen refusing it, and one that does not, admitting it.

export const LAB_OIDC_ACCOUNTS = [
  { sub: 'lab-viewer', email: 'viewer@linkbox.lab', name: 'Lab Viewer', passwordVariable: 'LAB_VIEWER_PASSWORD', role: 'viewer', groups: ['linkbox-viewers'], emailVerified: true },
  { sub: 'lab-operator', email: 'operator@linkbox.lab', name: 'Lab Operator', passwordVariable: 'LAB_OPERATOR_PASSWORD', role: 'operator', groups: ['linkbox-operators'], emailVerified: true },
  { sub: 'lab-admin', email: 'admin@linkbox.lab', name: 'Lab Admin', passwordVariable: 'LAB_ADMIN_PASSWORD', role: 'admin', groups: ['linkbox-admins'], emailVerified: true },
  // In a group no role maps, so its unverified email is the only way the config could grant it one.
  { sub: 'lab-unverified', email: 'unverified@linkbox.lab', name: 'Lab Unverified', passwordVariable: 'LAB_UNVERIFIED_PASSWORD', role: 'viewer', groups: ['linkbox-guests'], emailVerified: false },
] as const;

export type LabOidcAccountDefinition = (typeof LAB_OIDC_ACCOUNTS)[number];
export type LabOidcPasswordVariable = LabOidcAccountDefinition['passwordVariable'];
export type LabOidcPasswords = Record<LabOidcPasswordVariable, string>;

/** The groups the lab's console config maps to roles ("group:NAME"), highest role last. */
export const LAB_OIDC_ROLE_GROUPS = { viewer: 'linkbox-viewers', operator: 'linkbox-operators', admin: 'linkbox-admins' } as const;

/** The same shape of password `npm start` generates for the console's lab accounts. */
export function generateLabAccountPassword(): string {
  return randomBytes(12).toString('base64url');
}

/** Every account's password: the given one, or a fresh one for this start. */
export function completePasswords(given: Partial<Record<string, string>> = {}): LabOidcPasswords {
  const passwords = {} as LabOidcPasswords;
  for (const account of LAB_OIDC_ACCOUNTS) {
    const chosen = given[account.passwordVariable];
    passwords[account.passwordVariable] = chosen ? chosen : generateLabAccountPassword();
  }
  return passwords;
}

/**
 * The account these credentials sign in, or null. Every account's password is compared, each
 * through a hash first, so the timing tells neither which emails exist nor how close a guess was.
 */
export function verifyCredentials(passwords: LabOidcPasswords, email: unknown, password: unknown): LabOidcAccountDefinition | null {
  if (typeof email !== 'string' || typeof password !== 'string' || password === '') return null;
  const wanted = email.trim().toLowerCase();
  let match: LabOidcAccountDefinition | null = null;
  for (const account of LAB_OIDC_ACCOUNTS) {
    const passwordMatches = secretsEqual(password, passwords[account.passwordVariable]);
    if (passwordMatches && account.email === wanted) match = account;
  }
  return match;
}

export function accountBySub(sub: string): LabOidcAccountDefinition | undefined {
  return LAB_OIDC_ACCOUNTS.find((account) => account.sub === sub);
}

function secretsEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}
