import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import type { Diagnosis } from '@/lib/runbooks/types';
import { environmentRoute, json, wantsFresh } from '../../../respond';

// GET /api/v1/environments/{name}/diagnosis → {rootCause, runbook, steps, ...}. Same access as the
// status API: a session or a bearer token (viewer), 401 without, 404 for an unknown environment.
// It answers as soon as the root cause is certain (`complete: false`, the steps still running in
// `pending`); `?wait=all` waits for every step.

export const dynamic = 'force-dynamic';

/** Built field by field so nothing added to the internal shape leaks out unreviewed. */
function diagnosisDto(d: Diagnosis) {
  return {
    environment: d.environment,
    rootCause: d.rootCause,
    rootCauseStep: d.rootCauseStep,
    runbook: d.runbook,
    verdict: d.verdict,
    couldNotCheck: d.couldNotCheck,
    checkedAt: d.checkedAt,
    complete: d.complete,
    ...(d.freshLimited ? { freshLimited: d.freshLimited } : {}),
    steps: d.steps.map((s) => ({
      id: s.id,
      check: s.check,
      title: s.title,
      status: s.status,
      summary: s.summary,
      evidence: s.evidence,
      meaning: s.meaning,
      ...(s.fix ? { fix: s.fix } : {}),
      runbooks: s.runbooks,
    })),
    pending: d.pending.map((p) => ({ id: p.id, check: p.check, title: p.title, runbooks: p.runbooks })),
  };
}

export function GET(req: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  return environmentRoute(req, params, (name) => `diagnosing ${name}`, async (caller, name) => {
    const wait = new URL(req.url).searchParams.get('wait') ?? 'certain';
    if (wait !== 'certain' && wait !== 'all') return json({ error: 'wait must be "certain" (the default: answer once the root cause is certain) or "all"' }, 400);
    return json(diagnosisDto(await diagnoseEnvironment(caller, name, { fresh: wantsFresh(req), wait })));
  });
}
