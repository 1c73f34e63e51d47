import type { Metadata } from 'next';
import Link from 'next/link';
import { Suspense } from 'react';
import { CheckedAt } from '@/components/status/checked-at';
import { DiagnosisPanel } from '@/components/troubleshoot/diagnosis-panel';
import { PrintButton } from '@/components/troubleshoot/print-button';
import { RunbookList } from '@/components/troubleshoot/runbook-list';
import { TriageForm } from '@/components/troubleshoot/triage-form';
import type { Caller } from '@/lib/roles';
import { getConfig } from '@/lib/config/load';
import type { EnvironmentConfig } from '@/lib/config/schema';
import { environmentOrNotFound, environmentTitle, pageSession } from '@/lib/pages';
import { runbooksFor } from '@/lib/runbooks';
import { diagnoseEnvironment } from '@/lib/runbooks/diagnosis';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';

export const dynamic = 'force-dynamic';

type Params = Promise<{ name: string }>;
type Search = Promise<Record<string, string | string[] | undefined>>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name } = await params;
  return { title: environmentTitle(name, (n) => `Troubleshoot ${n}`, 'Troubleshoot') };
}

async function DiagnosisSection({ caller, env, base, fresh }: { caller: Caller; env: EnvironmentConfig; base: string; fresh: boolean }) {
  const diagnosis = await diagnoseEnvironment(caller, env.name, { fresh });
  const runbooks = runbooksFor(env.kind);
  return (
    <div className="space-y-3">
      {diagnosis.freshLimited && (
        <p role="status" className="rounded-md border border-amber-200 bg-amber-50 p-2 text-sm text-amber-900">
          <CheckedAt iso={diagnosis.checkedAt} staleAfterSeconds={3600} />: this is the latest diagnosis. A fresh one is possible once every{' '}
          {getConfig().freshReads.diagnosisEverySeconds} s; again in {diagnosis.freshLimited.retryInSeconds} s.
        </p>
      )}
      <DiagnosisPanel diagnosis={diagnosis} runbooks={runbooks} base={base} />
      <section aria-labelledby="runbooks-heading">
        <h2 id="runbooks-heading" className="mb-1 text-sm font-bold uppercase tracking-wide text-slate-700">
          Runbooks
        </h2>
        <RunbookList runbooks={runbooks} base={base} diagnosis={diagnosis} />
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
      <p className="mt-1 text-sm text-slate-600">Every step of every runbook runs at once; the root cause is the first failing check in dependency order.</p>

      <div className="mt-3 space-y-3">
        <Suspense
          fallback={
            <p role="status" className="rounded-md border border-slate-200 bg-white p-3 text-sm text-slate-600">
              Diagnosing {env.name}: running every runbook…
            </p>
          }
        >
          <DiagnosisSection caller={caller} env={env} base={base} fresh={fresh} />
        </Suspense>
        <TriageForm environment={env.name} base={base} />
      </div>
    </main>
  );
}
