import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { SignInForm } from '@/components/auth/sign-in-form';
import { signInMethods } from '@/lib/auth/options';
import { getCaller, safeReturnPath } from '@/lib/auth/session';

export const metadata: Metadata = { title: 'Sign in' };

const NOTICES: Record<string, string> = {
  ended: 'Your session ended (8 hours after sign-in, or 30 minutes without activity). Sign in again.',
  'signed-out': 'You are signed out.',
};

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

function one(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export default async function SignInPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const callbackUrl = safeReturnPath(one(params.callbackUrl));
  if (await getCaller()) redirect(callbackUrl);

  const methods = signInMethods();
  const notice = NOTICES[one(params.reason) ?? ''];
  return (
    <main className="mx-auto mt-16 max-w-sm px-4">
      <div className="rounded-md border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-lg font-bold text-slate-900">Sign in</h1>
        <p className="mt-1 text-sm text-slate-600">LinkBox database path status, rotation and troubleshooting.</p>
        {notice && (
          <p role="status" className="mt-3 rounded border border-sky-200 bg-sky-50 px-3 py-2 text-sm text-sky-900">
            {notice}
          </p>
        )}
        <div className="mt-4">
          {methods.lab || methods.oidc ? (
            <SignInForm callbackUrl={callbackUrl} lab={methods.lab} oidc={methods.oidc} initialErrorCode={one(params.error) ?? null} />
          ) : (
            <p role="alert" className="text-sm text-red-800">
              No sign-in method is configured. Set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET, or in the lab set
              LAB_VIEWER_PASSWORD (and the operator and admin ones).
            </p>
          )}
        </div>
        {methods.lab && <p className="mt-4 text-xs text-slate-500">Lab mode: the lab prints the account passwords when it starts.</p>}
      </div>
    </main>
  );
}
