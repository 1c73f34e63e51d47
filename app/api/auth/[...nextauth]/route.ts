import NextAuth from 'next-auth';
import type { NextRequest } from 'next/server';
import { authOptions } from '@/lib/auth/options';

// Options are built per request, not at import, so `next build` needs no config and a changed
// config (or a refused lab sign-in) shows up on the next request.
async function handler(req: NextRequest, context: { params: Promise<{ nextauth: string[] }> }) {
  return NextAuth(req, context, authOptions());
}

export { handler as GET, handler as POST };
