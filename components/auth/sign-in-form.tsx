'use client';

import { signIn } from 'next-auth/react';
import { useState } from 'react';

// Sign-in goes through the organisation's identity provider (in the lab, the lab's). The console
// never sees a password. Errors are next-auth's codes and the console's own (lib/auth/options.ts),
// in the operator's words; a code this page does not know is not repeated.
const MESSAGES: Record<string, string> = {
  EmailNotVerified:
    'Your identity provider has not verified the email address of this account, so the console cannot tell who you are. Verify the address with your identity provider, then sign in again.',
  AccessDenied: 'This account has no role in the LinkBox Ops Console. Ask an admin to add it, or one of its groups, to the console config.',
  NoIdentity: 'Your identity provider did not say who you are (no subject or email in the ID token). Ask its admins to release the "email" scope to the console.',
  TooManyAttempts: 'Too many failed sign-ins for this account or from your address. Wait 15 minutes, then try again.',
  SessionRequired: 'Sign in to continue.',
  OAuthSignin: 'Could not reach the identity provider. Try again, or tell the console admins.',
  OAuthCallback: 'The identity provider sign-in did not complete. Try again.',
  Callback: 'The identity provider sign-in did not complete. Try again.',
};

function signInErrorMessage(code: string | null): string | null {
  if (!code) return null;
  return MESSAGES[code] ?? 'Sign-in failed. Try again, or tell the console admins.';
}

interface Props {
  callbackUrl: string;
  /** The `error` query parameter after a refused or failed sign-in. */
  errorCode: string | null;
  /** Signed in already, and asked to prove it again (before a dangerous action). */
  reauthenticate: { email: string } | null;
  /** For "Sign in again": what makes the IdP ask for the password whatever its session (prompt=login, max_age); else empty. */
  reauthParams: Record<string, string>;
}

export function SignInForm({ callbackUrl, errorCode, reauthenticate, reauthParams }: Props) {
  const [pending, setPending] = useState(false);
  const error = signInErrorMessage(errorCode);

  const start = () => {
    setPending(true);
    // next-auth posts to /api/auth/signin/oidc and sends the browser to the IdP with PKCE, state and nonce.
    void signIn('oidc', { callbackUrl }, reauthParams).catch(() => setPending(false));
  };

  return (
    <div className="space-y-4">
      {error && (
        <p role="alert" className="rounded border border-red-300 bg-red-50 px-3 py-2 text-sm text-red-800">
          {error}
        </p>
      )}
      {reauthenticate && (
        <p className="text-sm text-slate-700">
          Confirm it is you, <strong className="font-mono">{reauthenticate.email}</strong>: rotating, restarting and rolling back
          need a sign-in from the last 15 minutes. Your identity provider asks for your password again, then you are back on the
          page you came from with what you typed.
        </p>
      )}
      <button
        type="button"
        disabled={pending}
        onClick={start}
        className="w-full rounded bg-slate-900 px-3 py-2 text-sm font-semibold text-white hover:bg-slate-700 disabled:cursor-wait disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-500"
      >
        {pending ? 'Opening the identity provider…' : reauthenticate ? 'Sign in again' : 'Sign in with single sign-on'}
      </button>
      {reauthenticate && (
        <a href={callbackUrl} className="block text-center text-sm text-slate-600 underline">
          Cancel
        </a>
      )}
    </div>
  );
}
