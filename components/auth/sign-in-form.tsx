'use client';

import { signIn } from 'next-auth/react';
import { useState, type FormEvent } from 'react';

// next-auth's error codes in the operator's words. The message never says which of email or password
// was wrong, so the form does not tell an attacker which accounts exist.
const MESSAGES: Record<string, string> = {
  CredentialsSignin: 'Email or password is incorrect.',
  AccessDenied: 'This account has no role in the LinkBox Ops Console. Ask an admin to add it to the console config.',
  SessionRequired: 'Sign in to continue.',
  OAuthSignin: 'Could not reach the identity provider. Try again, or tell the console admins.',
  OAuthCallback: 'The identity provider sign-in did not complete. Try again.',
  Callback: 'The identity provider sign-in did not complete. Try again.',
};

function signInErrorMessage(code: string | null | undefined): string | null {
  if (!code) return null;
  return MESSAGES[code] ?? `Sign-in failed (${code}). Try again.`;
}

interface Props {
  callbackUrl: string;
  lab: boolean;
  oidc: boolean;
  /** next-auth's `error` query parameter after a failed IdP sign-in. */
  initialErrorCode: string | null;
}

export function SignInForm({ callbackUrl, lab, oidc, initialErrorCode }: Props) {
  const [error, setError] = useState<string | null>(signInErrorMessage(initialErrorCode));
  const [pending, setPending] = useState(false);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    try {
      const result = await signIn('lab', {
        email: String(form.get('email') ?? ''),
        password: String(form.get('password') ?? ''),
        redirect: false,
        callbackUrl,
      });
      if (!result || result.error || !result.ok) {
        setError(signInErrorMessage(result?.error ?? 'CredentialsSignin'));
        setPending(false);
        return;
      }
      // A full load, so the server renders the page (and header) with the new session.
      window.location.assign(callbackUrl);
    } catch {
      setError('The console did not answer. Try again.');
      setPending(false);
    }
  }

  return (
    <div className="space-y-4">
      {error && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800">
          {error}
        </p>
      )}
      {oidc && (
        <button
          type="button"
          onClick={() => void signIn('oidc', { callbackUrl })}
          className="w-full rounded bg-slate-900 px-3 py-2 text-sm font-semibold text-white hover:bg-slate-700 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
        >
          Sign in with single sign-on
        </button>
      )}
      {oidc && lab && <p className="text-center text-xs uppercase tracking-wide text-slate-500">or a lab account</p>}
      {lab && (
        <form onSubmit={onSubmit} className="space-y-3" noValidate>
          <div>
            <label htmlFor="email" className="block text-sm font-medium text-slate-800">
              Email
            </label>
            <input
              id="email"
              name="email"
              type="email"
              autoComplete="username"
              required
              className="mt-1 w-full rounded border border-slate-300 px-2 py-1.5 text-sm focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
            />
          </div>
          <div>
            <label htmlFor="password" className="block text-sm font-medium text-slate-800">
              Password
            </label>
            <input
              id="password"
              name="password"
              type="password"
              autoComplete="current-password"
              required
              className="mt-1 w-full rounded border border-slate-300 px-2 py-1.5 text-sm focus:border-sky-500 focus:outline-none focus:ring-1 focus:ring-sky-500"
            />
          </div>
          <button
            type="submit"
            disabled={pending}
            className="w-full rounded bg-sky-700 px-3 py-2 text-sm font-semibold text-white hover:bg-sky-800 disabled:cursor-wait disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
          >
            {pending ? 'Signing in…' : 'Sign in'}
          </button>
        </form>
      )}
    </div>
  );
}
