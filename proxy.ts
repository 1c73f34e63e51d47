import { NextResponse, type NextRequest } from 'next/server';
import { sessionIdFromCookies } from '@/lib/auth/session-cookie';

// Sends a browser without a session cookie to /signin before a page renders. It is a convenience,
// not the security boundary: every page, route handler and server action looks the session up in the
// store itself (an ended session still has a cookie that decrypts), so a request that slips past
// this (x-middleware-subrequest and the like) is still refused there.
export async function proxy(req: NextRequest) {
  if (await sessionIdFromCookies(req.cookies)) return NextResponse.next();

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
