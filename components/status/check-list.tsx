import type { CheckId, CheckResult, CheckStatus, Evidence } from '@/lib/checks/types';
import { CheckStatusBadge, RunningBadge } from './status-badge';
import { EvidenceEntries, FixBlock } from './evidence-and-fix';
import { SECTIONS, checkTitle, sectionOf, type Section } from './check-names';

/** Evidence of a passing check starts folded so a healthy page stays dense; anything else starts open. */
function EvidenceList({ evidence, open }: { evidence: Evidence; open: boolean }) {
  const entries = Object.entries(evidence);
  if (entries.length === 0) return null;
  return (
    <details open={open} className="group mt-1">
      <summary className="cursor-pointer select-none text-xs text-slate-500 hover:text-slate-800">Evidence ({entries.length})</summary>
      <EvidenceEntries evidence={evidence} />
    </details>
  );
}

export function CheckRow({ check, isRootCause }: { check: CheckResult; isRootCause: boolean }) {
  const titleId = `check-${check.id}`;
  return (
    <li>
      <article
        aria-labelledby={titleId}
        data-check-id={check.id}
        data-status={check.status}
        className={`border-l-4 px-3 py-2 ${isRootCause ? 'border-red-600 bg-red-50/60' : 'border-transparent'}`}
      >
        <div className="flex flex-wrap items-center gap-x-2 gap-y-1">
          <CheckStatusBadge status={check.status} />
          <h3 id={titleId} className="text-sm font-semibold text-slate-900">
            {checkTitle(check.id)} <span className="font-mono text-xs font-normal text-slate-500">{check.id}</span>
          </h3>
          {isRootCause && (
            <span className="rounded bg-red-700 px-1.5 py-0.5 text-[11px] font-bold uppercase tracking-wide text-white">Root cause</span>
          )}
          {typeof check.durationMs === 'number' && (
            <span className="ml-auto font-mono text-[11px] text-slate-500">{Math.round(check.durationMs)} ms</span>
          )}
        </div>
        <p className="mt-1 text-sm text-slate-800">{check.summary}</p>
        <EvidenceList evidence={check.evidence} open={check.status !== 'pass'} />
        {check.fix && check.status !== 'pass' && <FixBlock fix={check.fix} />}
      </article>
    </li>
  );
}

const SEVERITY: CheckStatus[] = ['fail', 'error', 'warn', 'skip', 'pass'];

function SectionFrame({ title, badge, aside, answered, children }: { title: Section; badge: React.ReactNode; aside?: React.ReactNode; answered: boolean; children: React.ReactNode }) {
  return (
    <section aria-labelledby={`section-${title}`} data-section={title} data-answered={answered} className="overflow-hidden rounded-md border border-slate-200 bg-white shadow-sm">
      <header className="flex flex-wrap items-center gap-2 border-b border-slate-200 bg-slate-100 px-3 py-1.5">
        <h2 id={`section-${title}`} className="text-sm font-bold uppercase tracking-wide text-slate-700">
          {title}
        </h2>
        {badge}
        {aside && <div className="ml-auto text-xs text-slate-600">{aside}</div>}
      </header>
      <ul className="divide-y divide-slate-100">{children}</ul>
    </section>
  );
}

export function CheckSection({ title, checks, rootCause, aside }: { title: Section; checks: CheckResult[]; rootCause: CheckId | null; aside?: React.ReactNode }) {
  const worst = SEVERITY.find((status) => checks.some((c) => c.status === status)) ?? 'pass';
  return (
    <SectionFrame title={title} badge={<CheckStatusBadge status={worst} />} aside={aside} answered>
      {checks.map((check) => (
        <CheckRow key={check.id} check={check} isRootCause={check.id === rootCause} />
      ))}
    </SectionFrame>
  );
}

/** A panel whose checks have not all answered: their names, until the panel streams in. */
export function RunningCheckSection({ title, ids }: { title: Section; ids: readonly CheckId[] }) {
  return (
    <SectionFrame title={title} badge={<RunningBadge />} answered={false}>
      {ids.map((id) => (
        <li key={id} data-check-id={id} data-status="running" className="px-3 py-2 text-sm text-slate-700">
          {checkTitle(id)} <span className="font-mono text-xs text-slate-500">{id}</span>
        </li>
      ))}
    </SectionFrame>
  );
}

/** Check ids grouped into the page's panels, in panel order; empty panels are left out. */
export function groupBySection(ids: readonly CheckId[]): Array<{ section: Section; ids: CheckId[] }> {
  return SECTIONS.map((section) => ({ section, ids: ids.filter((id) => sectionOf(id) === section) })).filter((g) => g.ids.length > 0);
}
