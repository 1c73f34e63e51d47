import type { Metadata } from 'next';
import Link from 'next/link';
import { StepList } from '@/components/troubleshoot/step-list';
import { PrintButton } from '@/components/troubleshoot/print-button';
import { environmentOrNotFound, environmentTitle, pageSession, runbookOrNotFound } from '@/lib/pages';
import { runRunbook } from '@/lib/runbooks';
import { Breadcrumb, environmentTrail } from '@/components/layout/breadcrumb';

export const dynamic = 'force-dynamic';

type Params = Promise<{ name: string; runbook: string }>;
type Search = Promise<Record<string, string | string[] | undefined>>;

export async function generateMetadata({ params }: { params: Params }): Promise<Metadata> {
  const { name, runbook } = await params;
  return { title: environmentTitle(name, (n) => `${runbook} · ${n}`, 'Runbook') };
}

export default async function RunbookPage({ params, searchParams }: { params: Params; searchParams: Search }) {
  const { name, runbook } = await params;
  const { caller } = await pageSession(`/environments/${encodeURIComponent(name)}/troubleshoot/${encodeURIComponent(runbook)}`);
  const def = runbookOrNotFound(environmentOrNotFound(name), runbook);
  const fresh = (await searchParams).fresh === '1';
  const run = await runRunbook(caller, name, def.id, { fresh });
  const base = `/environments/${encodeURIComponent(name)}`;
  const failing = run.steps.filter((s) => s.status === 'fail').length;
  const unchecked = run.steps.filter((s) => s.status === 'error').length;

  return (
    <main className="mx-auto max-w-3xl px-3 py-4 print:max-w-none print:px-0">
      <Breadcrumb trail={environmentTrail(name, { label: 'Troubleshoot', href: `${base}/troubleshoot` })} />
      <div className="flex flex-wrap items-center gap-2">
        <h1 className="text-xl font-bold text-slate-900">{run.title}</h1>
        <div className="ml-auto flex gap-2 print:hidden">
          <Link
            href={`${base}/troubleshoot/${run.runbook}?fresh=1`}
            className="rounded border border-slate-300 bg-white px-2.5 py-1 text-xs font-semibold text-slate-800 shadow-sm hover:bg-slate-50"
          >
            Run again
          </Link>
          <PrintButton />
        </div>
      </div>
      <p className="mt-1 text-sm text-slate-700">{run.symptom}</p>
      <p className="mt-1 text-xs text-slate-600">
        Environment <strong>{name}</strong> · checked {new Date(run.checkedAt).toISOString().replace('T', ' ').slice(0, 19)} UTC ·{' '}
        <span data-testid="runbook-summary">
          {failing > 0 ? `${failing} failing` : 'nothing failing'}
          {unchecked > 0 ? `, ${unchecked} could not be checked` : ''}
        </span>
        {run.firstFailingStep && (
          <>
            {' · '}
            <a href={`#step-${run.firstFailingStep}`} className="font-semibold text-red-800 underline">
              first failing step
            </a>
          </>
        )}
      </p>
      <div className="mt-3">
        <StepList steps={run.steps} highlight={run.firstFailingStep} />
      </div>
    </main>
  );
}
