'use client';

import { signOut } from 'next-auth/react';
import { useState } from 'react';

export function SignOutButton() {
  const [pending, setPending] = useState(false);
  return (
    <button
      type="button"
      disabled={pending}
      onClick={() => {
        setPending(true);
        void signOut({ callbackUrl: '/signin?reason=signed-out' });
      }}
      className="rounded border border-slate-500 px-2 py-1 text-xs font-medium text-slate-100 hover:bg-slate-700 disabled:opacity-60 focus:outline-none focus-visible:ring-2 focus-visible:ring-sky-400"
    >
      {pending ? 'Signing out…' : 'Sign out'}
    </button>
  );
}
