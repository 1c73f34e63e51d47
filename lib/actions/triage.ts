'use server';

// Matches a pasted error message to the runbooks that explain it and runs them at once: a viewer's
// action, built from the same chain as the dangerous ones. The pasted text is never logged, stored
// or echoed back: it can carry a DATABASE_URL with a password.

import { z } from 'zod';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';
import { getEnvironment } from '@/lib/config/load';
import { runRunbooks } from '@/lib/runbooks';
import { triageErrorText, TRIAGE_MAX_BYTES } from '@/lib/runbooks/triage';
import type { RunbookId, RunbookRun } from '@/lib/runbooks/types';
import { actionChain, requireRole, withEnvironment, withInput, withSession } from './safe-action';

export type TriageState =
  | { status: 'idle' }
  | { status: 'error'; message: string }
  | { status: 'matched'; reasons: Array<{ label: string; source: string; runbooks: RunbookId[] }>; runs: RunbookRun[] };

const input = z.strictObject({
  environment: z.string().regex(ENVIRONMENT_NAME_PATTERN, 'not an environment name'),
  // An empty paste is a question, not a malformed request: triageErrorText says what to paste.
  text: z.string().default(''),
});

const triage = actionChain<TriageState>({
  action: 'triage',
  what: 'triage',
  page: (environment) => (environment ? `/environments/${environment}/troubleshoot` : '/'),
  refused: (message) => ({ status: 'error', message }),
  // Room for a 10 kB paste in any encoding; triageErrorText tells the operator the real limit.
  maxBytes: TRIAGE_MAX_BYTES * 8,
})
  .use(withSession)
  .use(requireRole('viewer'))
  .use(withInput(input))
  .use(withEnvironment())
  .run(async ({ caller, input: { environment, text } }) => {
    const outcome = triageErrorText(text, getEnvironment(environment).kind);
    if (!outcome.ok) return { status: 'error', message: outcome.message };
    const runs = await runRunbooks(caller, environment, outcome.runbooks);
    return { status: 'matched', reasons: outcome.reasons, runs };
  });

export async function triageErrorMessage(previous: TriageState, form: FormData): Promise<TriageState> {
  return triage(previous, form);
}
