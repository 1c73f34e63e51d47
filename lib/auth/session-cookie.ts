import 'server-only';
import { getToken } from 'next-auth/jwt';

// The session cookie: next-auth's encrypted JWT (httpOnly, SameSite=Lax, Secure under https), which
// holds nothing but the id of a session record (lib/auth/sessions.ts). NEXTAUTH_SECRET is the one
// secret it is sealed with; next-auth's AUTH_SECRET fallback is not used, so the proxy, the pages and
// next-auth can never disagree about the key (start-up refuses a console with only AUTH_SECRET).

export function sessionCookieSecure(env: Record<string, string | undefined> = process.env): boolean {
  return (env.NEXTAUTH_URL ?? '').startsWith('https://');
}

/** What holds the request's cookies: Next's cookies(), a NextRequest's, or a Map in tests. */
export type CookieSource = { getAll(): Array<{ name: string; value: string }> } | Map<string, string>;

/** The session id in the request's cookie, or null when there is none, or it does not decrypt or has expired. */
export async function sessionIdFromCookies(cookies: CookieSource): Promise<string | null> {
  const secret = process.env.NEXTAUTH_SECRET;
  if (!secret) return null;
  // `headers: {}`: getToken would otherwise also accept the session JWT as a bearer token.
  const req = { cookies, headers: {} } as unknown as Parameters<typeof getToken>[0]['req'];
  const token = await getToken({ req, secret, secureCookie: sessionCookieSecure() }).catch(() => null);
  const sid = token?.sid;
  return typeof sid === 'string' && sid.length > 0 ? sid : null;
}
