'use server';

// Ends every session of one person (an admin's action): they are signed out at their next request,
// in every browser. To keep them out, remove them from the config's roles (or the IdP) as well.
import { z } from 'zod';
import { recordAuditSafely } from '@/lib/audit';
import { endSessionsOf } from '@/lib/auth/sessions';
import { actionChain, requireRole, withInput, withSession, type ActionState } from './safe-action';

const input = z.strictObject({ email: z.email().max(320) });

const endSessions = actionChain<ActionState>({
  action: 'sessions.end',
  what: 'ending sessions',
  page: () => '/admin/sessions',
  refused: (error, signInUrl) => (signInUrl ? { error, signInUrl } : { error }),
})
  .use(withSession)
  .use(requireRole('admin'))
  .use(withInput(input))
  .run(async ({ caller, input: { email } }) => {
    const ended = await endSessionsOf(caller, email);
    await recordAuditSafely({ actor: caller.id, role: caller.role, action: 'sessions.end', environment: null, outcome: 'success', detail: `ended ${ended} session(s) of ${email.toLowerCase()}` });
    return { ok: true, message: ended === 1 ? `Ended 1 session of ${email.toLowerCase()}.` : `Ended ${ended} sessions of ${email.toLowerCase()}.` };
  });

export async function endSessionsAction(previous: ActionState, form: FormData): Promise<ActionState> {
  return endSessions(previous, form);
}
