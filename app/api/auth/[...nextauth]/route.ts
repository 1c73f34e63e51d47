import NextAuth from 'next-auth';
import type { NextRequest } from 'next/server';
import { clientAddress } from '@/lib/auth/client-address';
import { authOptions, CONSOLE_SIGN_IN_ERRORS } from '@/lib/auth/options';
import { sessionIdFromCookies } from '@/lib/auth/session-cookie';
import { auditSignIn, recordSignInFailure, signInThrottle } from '@/lib/auth/throttle';
import { getConfig } from '@/lib/config/load';

// next-auth's routes, with what it does not do itself: an address over the sign-in limit is refused
// before it is sent to the IdP, and an authorization response that fails next-auth's checks (state,
// PKCE, nonce, the ID token's signature, issuer, audience, expiry) counts as a failed sign-in.
// Options are built per request, not at import, so `next build` needs no config.

type Context = { params: Promise<{ nextauth: string[] }> };

const OWN_ERRORS = new Set<string>(Object.values(CONSOLE_SIGN_IN_ERRORS));

async function handler(req: NextRequest, context: Context) {
  const [route] = (await context.params).nextauth;
  const address = clientAddress(req.headers.get('x-forwarded-for'), getConfig().signIn.trustedProxyHops);
  const signingIn = route === 'signin' || route === 'callback';
  const previousSessionId = signingIn ? await sessionIdFromCookies(req.cookies) : null;
  const kind = previousSessionId ? 're-authentication' : 'sign-in';

  if (signingIn) {
    const throttle = await signInThrottle({ address });
    if (throttle.limited) {
      await auditSignIn({ kind, account: null, address, reason: throttle.reason });
      const refused = `/signin?error=${CONSOLE_SIGN_IN_ERRORS.throttled}`;
      // next-auth/react's signIn() posts and reads `url` from JSON; the IdP's redirect back is a plain GET.
      return req.method === 'POST' ? Response.json({ url: refused }) : new Response(null, { status: 302, headers: { location: refused } });
    }
  }

  const res = await NextAuth(req, context, authOptions({ address, previousSessionId }));

  if (route === 'callback') {
    const error = new URL(res.headers.get('location') ?? '/', req.nextUrl.origin).searchParams.get('error');
    // next-auth's own codes (OAuthCallback, Callback, ...); anything else is not worth repeating.
    if (error && !OWN_ERRORS.has(error)) {
      const code = /^[A-Za-z]{1,40}$/.test(error) ? error : 'unknown';
      await recordSignInFailure({ kind, account: null, address, reason: `refused: the identity provider's answer did not verify or reported an error (${code})` });
    }
  }
  return res;
}

export { handler as GET, handler as POST };
