import 'server-only';
import { randomInt } from 'node:crypto';

// A new master password must satisfy RDS (8–128 printable ASCII, none of / @ " or space) and survive
// start_application.sh, which pastes it into DATABASE_URL without encoding: so only URL-unreserved
// characters. The first character is alphanumeric so a CLI never reads the password as an option.

export const PASSWORD_LENGTH = 40;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const URL_UNRESERVED = `${ALPHANUMERIC}-_.~`;

export function generatePassword(): string {
  let password = ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]!;
  while (password.length < PASSWORD_LENGTH) password += URL_UNRESERVED[randomInt(URL_UNRESERVED.length)]!;
  const problem = passwordProblem(password);
  if (problem) throw new Error(`generated password rejected: ${problem}`);
  return password;
}

/** Why RDS or the deploy script would reject this password, or null when it is fine. Never echoes it. */
export function passwordProblem(password: string): string | null {
  if (password.length < 32) return 'shorter than 32 characters';
  if (password.length > 128) return 'longer than 128 characters (the RDS PostgreSQL limit)';
  if (/[^\x21-\x7e]/.test(password)) return 'contains a character that is not printable ASCII';
  if (/[/@"\s]/.test(password)) return 'contains /, @, " or a space, which RDS refuses';
  if (!/^[A-Za-z0-9\-_.~]+$/.test(password)) return 'contains a character that is not URL-safe (DATABASE_URL is built without encoding)';
  if (!/^[A-Za-z0-9]/.test(password)) return 'starts with a symbol, which a command line could read as an option';
  return null;
}
