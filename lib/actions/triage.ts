'use server';

// Matches a pasted error message to the runbooks that explain it and runs them at once.
// The pasted text is never logged, stored or echoed back: it can carry a DATABASE_URL with a password.

import { z } from 'zod';
import { AuthorizationError, hasRole } from '@/lib/auth/caller';
import { getCaller } from '@/lib/auth/session';
import { UnknownEnvironmentError, getEnvironment } from '@/lib/config/load';
import { runRunbooks } from '@/lib/runbooks';
import { triageErrorText, TRIAGE_MAX_BYTES } from '@/lib/runbooks/triage';
import type { RunbookId, RunbookRun } from '@/lib/runbooks/types';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';

export type TriageState =
  | { status: 'idle' }
  | { status: 'error'; message: string }
  | { status: 'matched'; reasons: Array<{ label: string; source: string; runbooks: RunbookId[] }>; runs: RunbookRun[] };

const input = z.strictObject({
  environment: z.string().regex(ENVIRONMENT_NAME_PATTERN),
  // Generous in characters so the byte limit (with its clear message) is what an operator meets.
  text: z.string().max(TRIAGE_MAX_BYTES * 4),
});

export async function triageErrorMessage(_previous: TriageState, form: FormData): Promise<TriageState> {
  const caller = await getCaller();
  if (!hasRole(caller, 'viewer')) return { status: 'error', message: 'Sign in to use triage.' };

  const parsed = input.safeParse({ environment: form.get('environment'), text: form.get('text') ?? '' });
  if (!parsed.success) {
    const tooLong = parsed.error.issues.some((i) => i.path[0] === 'text' && i.code === 'too_big');
    return {
      status: 'error',
      message: tooLong ? `The pasted text is over 10 kB (${TRIAGE_MAX_BYTES.toLocaleString('en')} bytes); paste the error line and a few lines around it.` : 'That request is not valid.',
    };
  }
  const { environment, text } = parsed.data;
  try {
    const env = getEnvironment(environment);
    const outcome = triageErrorText(text, env.kind);
    if (!outcome.ok) return { status: 'error', message: outcome.message };
    const runs = await runRunbooks(caller, environment, outcome.runbooks);
    return { status: 'matched', reasons: outcome.reasons, runs };
  } catch (err) {
    if (err instanceof UnknownEnvironmentError) return { status: 'error', message: `There is no environment named "${environment}".` };
    if (err instanceof AuthorizationError) return { status: 'error', message: err.message };
    // Only the error's name: its message could quote something from the run, never the paste, but keep it short.
    console.error(`[triage] running runbooks for ${environment} failed: ${err instanceof Error ? err.name : 'Error'}`);
    return { status: 'error', message: 'The runbooks could not be run; the console log has the reason.' };
  }
}
