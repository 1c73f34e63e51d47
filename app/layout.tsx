import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { AppHeader } from '@/components/layout/app-header';
import { getCaller } from '@/lib/auth/session';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'LinkBox Ops Console', template: '%s · LinkBox Ops Console' },
  description: 'Database path status, password rotation and troubleshooting for LinkBox',
};

export default async function RootLayout({ children }: { children: ReactNode }) {
  // For the header only: each page checks the caller itself (a layout does not re-run on every navigation).
  const caller = await getCaller();
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased">
        <AppHeader caller={caller} />
        {children}
      </body>
    </html>
  );
}
