import type { Role } from '@/lib/config/schema';
import type { SignInProvider } from '@/lib/roles';

// What the console keeps in the session JWT and exposes in the session: no secret, no IdP tokens.

declare module 'next-auth/jwt' {
  interface JWT {
    role?: Role;
    groups?: string[];
    provider?: SignInProvider;
    /** Sign-in time, epoch seconds; rotation's re-authentication reads it. */
    authTime?: number;
    /** Last operator activity, epoch seconds; the idle timeout counts from here. */
    lastSeen?: number;
  }
}

declare module 'next-auth' {
  interface Session {
    role?: Role;
    authTime?: number;
  }
}
