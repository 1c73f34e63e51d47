import type { Role } from '@/lib/config/schema';

// What the console keeps in next-auth's JWT and exposes in its session: the JWT holds only the id of
// a server-side session record; no identity, no IdP token.

declare module 'next-auth/jwt' {
  interface JWT {
    sid?: string;
  }
}

declare module 'next-auth' {
  interface Session {
    role?: Role;
    authTime?: number | null;
  }
}
