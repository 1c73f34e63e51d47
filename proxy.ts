import { getToken } from 'next-auth/jwt';
import { NextResponse, type NextRequest } from 'next/server';
import { nowInSeconds, sessionVerdict } from '@/lib/auth/session-lifetime';

// Sends a signed-out browser to /signin before a page renders. It is a convenience, not the
// security boundary: every page, route handler and data function checks the caller itself, so a
// request that slips past this (x-middleware-subrequest and the like) is still refused there.
export async function proxy(req: NextRequest) {
  const token = await getToken({ req, secureCookie: (process.env.NEXTAUTH_URL ?? '').startsWith('https://') }).catch(() => null);
  if (token && sessionVerdict(token, nowInSeconds()) === 'active') return NextResponse.next();

  const signIn = req.nextUrl.clone();
  signIn.pathname = '/signin';
  signIn.search = '';
  const back = req.nextUrl.pathname + req.nextUrl.search;
  if (back !== '/') signIn.searchParams.set('callbackUrl', back);
  return NextResponse.redirect(signIn);
}

export const config = {
  // Pages only: route handlers answer 401 JSON themselves, and /signin and static assets are public.
  matcher: ['/((?!api/|_next/|signin|favicon\\.ico|robots\\.txt|.*\\.(?:svg|png|jpg|ico|css|js|woff2?)$).*)'],
};
