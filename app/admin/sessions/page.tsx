import type { Metadata } from 'next';
import { EndedSessionsArea, EndSessionsForm } from '@/components/auth/end-sessions-form';
import { dateTime } from '@/components/rotation/time';
import { endSessionsAction } from '@/lib/actions/end-sessions';
import { listActiveSessions } from '@/lib/auth/sessions';
import { pageSession } from '@/lib/pages';

export const metadata: Metadata = { title: 'Sessions' };

// Who is signed in, for admins: every live session per person, and a way to end them all. Ending a
// session takes effect at the person's next request, in every browser they use.
export default async function SessionsPage() {
  const { caller } = await pageSession('/admin/sessions', 'admin');
  const people = await listActiveSessions(caller);

  return (
    <main className="mx-auto max-w-7xl px-3 py-4">
      <h1 className="text-xl font-bold text-slate-900">Sessions</h1>
      <p className="mt-1 text-sm text-slate-700">
        Everyone signed in to the console now. Ending someone&apos;s sessions signs them out at their next request, in every
        browser; to keep them out, also remove them (or their group) from the config&apos;s <code className="font-mono">roles</code>.
        Sessions end by themselves 8 hours after sign-in or after 30 minutes without activity.
      </p>
      <EndedSessionsArea>
        {people.length === 0 ? (
          <p className="mt-4 text-sm text-slate-600">Nobody is signed in.</p>
        ) : (
          <div className="mt-4 overflow-x-auto rounded border border-slate-200 bg-white">
            <table className="min-w-full text-left text-sm">
              <caption className="sr-only">Signed-in people and their sessions</caption>
              <thead className="bg-slate-100 text-xs uppercase tracking-wide text-slate-600">
                <tr>
                  <th scope="col" className="px-2 py-1.5">Who</th>
                  <th scope="col" className="px-2 py-1.5">Role now</th>
                  <th scope="col" className="px-2 py-1.5">Sessions (started · last active · password typed at the IdP · from)</th>
                  <th scope="col" className="px-2 py-1.5">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {people.map((person) => (
                  <tr key={person.email} data-email={person.email} className="border-t border-slate-200 align-top">
                    <td className="px-2 py-1.5 font-mono text-xs">
                      {person.email}
                      {person.name && <div className="font-sans text-slate-600">{person.name}</div>}
                    </td>
                    <td className="px-2 py-1.5 text-xs">{person.role ?? 'none (ends at the next request)'}</td>
                    <td className="px-2 py-1.5 text-xs">
                      <ul>
                        {person.sessions.map((s, i) => (
                          <li key={i}>
                            {dateTime(s.startedAt)} · {dateTime(s.lastSeenAt)} · {dateTime(s.authTime)} · {s.address ?? 'unknown address'}
                          </li>
                        ))}
                      </ul>
                    </td>
                    <td className="px-2 py-1.5">
                      <EndSessionsForm action={endSessionsAction} email={person.email} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </EndedSessionsArea>
    </main>
  );
}
