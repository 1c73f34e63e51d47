import type { Metadata } from 'next';
import Link from 'next/link';
import { Suspense } from 'react';
import { DiagnosisPanel } from '@/components/troubleshoot/diagnosis-panel';
import { PrintButton } from '@/components/troubleshoot/print-button';
import { RunbookList } from '@/components/troubleshoot/runbook-list';
import { StreamedStepList } from '@/components/troubleshoot/step-list';
import { TriageForm } from '@/components/troubleshoot/triage-form';
import type { Caller } from '@/lib/roles';
import { getConfig } from '@/lib/config/load';
import type { EnvironmentConfig } from '@/lib/config/schema';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';
import { runbooksFor, type RunbookDefinition } from '@/lib/runbooks';
import { openDiagnosis, type DiagnosisRun } from '@/lib/runbooks/diagnosis';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';

export const dynamic = 'force-dynamic';

type Params = Promise<{ name: string }>;
type Search = Promise<Record<string, string | string[] | undefined>>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => `Troubleshoot ${n}`, 'Troubleshoot') };
}

async function Verdict({ run, runbooks, base }: { run: DiagnosisRun; runbooks: RunbookDefinition[]; base: string }) {
  return <DiagnosisPanel diagnosis={await run.certain} runbooks={runbooks} base={base} />;
}

async function RunbooksDiagnosed({ run, runbooks, base }: { run: DiagnosisRun; runbooks: RunbookDefinition[]; base: string }) {
  return <RunbookList runbooks={runbooks} base={base} diagnosis={await run.complete} />;
}

function DiagnosisSection({ caller, env, base, fresh, children }: { caller: Caller; env: EnvironmentConfig; base: string; fresh: boolean; children: React.ReactNode }) {
  // Started here, streamed below: the verdict once it is certain, each step as it answers, the runbooks once all have.
  const run = openDiagnosis(caller, env.name, { fresh });
  const runbooks = runbooksFor(env.kind);
  return (
    <div className="space-y-3">
      {run.freshLimited && (
        <p role="status" className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900">
          This is the latest diagnosis, not a fresh one: a fresh one is possible once every {getConfig().freshReads.diagnosisEverySeconds} s; again in{' '}
          {run.freshLimited.retryInSeconds} s.
        </p>
      )}
      <Suspense
        fallback={
          <p role="status" className="rounded-md border border-slate-200 bg-white p-3 text-sm text-slate-600">
            Diagnosing {env.name}: every step of every runbook is running; the root cause shows as soon as it is certain…
          </p>
        }
      >
        <Verdict run={run} runbooks={runbooks} base={base} />
      </Suspense>
      <section aria-labelledby="runbooks-heading">
        <h2 id="runbooks-heading" className="mb-1 text-sm font-bold uppercase tracking-wide text-slate-700">
          Runbooks
        </h2>
        <Suspense fallback={<RunbookList runbooks={runbooks} base={base} diagnosis={null} />}>
          <RunbooksDiagnosed run={run} runbooks={runbooks} base={base} />
        </Suspense>
      </section>
      {children}
      <section aria-labelledby="steps-heading">
        <h2 id="steps-heading" className="mb-1 text-sm font-bold uppercase tracking-wide text-slate-700">
          Every step, in dependency order
        </h2>
        <StreamedStepList steps={run.steps} />
      </section>
    </div>
  );
}

export default async function TroubleshootPage({ params, searchParams }: { params: Params; searchParams: Search }) {
  const { name } = await params;
  const { caller } = await pageSession(`/environments/${encodeURIComponent(name)}/troubleshoot`);
  const env = environmentOrNotFound(name);
  const fresh = (await searchParams).fresh === '1';
  const base = `/environments/${encodeURIComponent(env.name)}/troubleshoot`;

  return (
    <main className="mx-auto max-w-3xl px-3 py-4 print:max-w-none print:px-0">
      <Breadcrumb trail={environmentTrail(env.name, { label: 'Troubleshoot' })} />
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-bold text-slate-900">Troubleshoot {env.name}</h1>
        <div className="ml-auto flex gap-2 print:hidden">
          <Link
            href={`${base}?fresh=1`}
            className="rounded border border-slate-300 bg-white px-2.5 py-1 text-xs font-semibold text-slate-800 shadow-sm hover:bg-slate-50"
          >
            Diagnose again
          </Link>
          <PrintButton />
        </div>
      </div>
      <p className="mt-1 text-sm text-slate-600">Every step of every runbook runs at once; the root cause is the first failing check in dependency order, shown as soon as it is certain.</p>

      <div className="mt-3 space-y-3">
        <DiagnosisSection caller={caller} env={env} base={base} fresh={fresh}>
          <TriageForm environment={env.name} base={base} />
        </DiagnosisSection>
      </div>
    </main>
  );
}
