import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SignInForm } from '@/components/auth/sign-in-form';
import { getConfig } from '@/lib/config/load';
import { oidcSettings } from '@/lib/auth/oidc';
import { reauthAuthorizationParams } from '@/lib/auth/reauth';
import { getSessionInfo, safeReturnPath } from '@/lib/auth/session';

export const metadata: Metadata = { title: 'Sign in' };

const NOTICES: Record<string, string> = {
  ended: 'Your session ended (8 hours after sign-in, 30 minutes without activity, or ended by an admin). Sign in again.',
  'signed-out': 'You are signed out.',
};

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export default async function SignInPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const callbackUrl = safeReturnPath(one(params.callbackUrl));
  // "Sign in again" before a dangerous action: a signed-in person stays here and is asked to prove it;
  // anyone else signed in goes straight back.
  const reauth = one(params.reauth) === '1';
  const session = await getSessionInfo();
  if (session && !reauth) redirect(callbackUrl);

  const config = getConfig();
  const notice = NOTICES[one(params.reason) ?? ''];
  const errorCode = one(params.error) ?? null;
  return (
    <main className="mx-auto mt-16 max-w-sm px-4">
      <div className="rounded-md border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-lg font-bold text-slate-900">{session ? 'Sign in again' : 'Sign in'}</h1>
        <p className="mt-1 text-sm text-slate-600">LinkBox database path status, rotation and troubleshooting.</p>
        {notice && (
          <p role="status" className="mt-3 rounded border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900">
            {notice}
          </p>
        )}
        <div className="mt-4">
          {oidcSettings() ? (
            <SignInForm
              callbackUrl={callbackUrl}
              errorCode={errorCode}
              reauthenticate={session ? { email: session.caller.id } : null}
              reauthParams={reauth ? reauthAuthorizationParams(config.signIn) : {}}
            />
          ) : (
            <p role="alert" className="text-sm text-red-800">
              No sign-in is configured: set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (npm start does it for the lab).
            </p>
          )}
        </div>
        {config.mode === 'lab' && (
          <p className="mt-4 text-xs text-slate-500">Lab mode: the lab&apos;s identity provider asks for the password; npm start prints the accounts.</p>
        )}
      </div>
    </main>
  );
}
