import 'server-only';
import type { Role } from '@/lib/config/schema';
import { secretsEqual } from './constant-time';

// The lab's local accounts. They exist only in mode "lab" (options.ts refuses them otherwise) and
// each is enabled only while its password variable is set: the lab prints the passwords it uses.

export const LAB_ACCOUNTS = [
  { email: 'viewer@linkbox.lab', passwordVariable: 'LAB_VIEWER_PASSWORD', role: 'viewer' },
  { email: 'operator@linkbox.lab', passwordVariable: 'LAB_OPERATOR_PASSWORD', role: 'operator' },
  { email: 'admin@linkbox.lab', passwordVariable: 'LAB_ADMIN_PASSWORD', role: 'admin' },
] as const satisfies ReadonlyArray<{ email: string; passwordVariable: string; role: Role }>;

export type LabAccount = (typeof LAB_ACCOUNTS)[number];

type Env = Record<string, string | undefined>;

export function enabledLabAccounts(env: Env = process.env): LabAccount[] {
  return LAB_ACCOUNTS.filter((account) => !!env[account.passwordVariable]);
}

export function labAccountFor(email: string): LabAccount | undefined {
  const normalized = email.trim().toLowerCase();
  return LAB_ACCOUNTS.find((account) => account.email === normalized);
}

/**
 * The lab account these credentials sign in, or null. Every enabled account's password is compared,
 * so the timing tells neither which emails exist nor how close a guess was.
 */
export function verifyLabCredentials(email: unknown, password: unknown, env: Env = process.env): LabAccount | null {
  if (typeof email !== 'string' || typeof password !== 'string' || password === '') return null;
  const wanted = email.trim().toLowerCase();
  let match: LabAccount | null = null;
  for (const account of LAB_ACCOUNTS) {
    const expected = env[account.passwordVariable];
    if (!expected) continue;
    const passwordMatches = secretsEqual(password, expected);
    if (passwordMatches && account.email === wanted) match = account;
  }
  return match;
}
