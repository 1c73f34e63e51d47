import Link from 'next/link';

// The trail above every page below the environments list; hidden when printing a runbook.

export interface Crumb {
  label: string;
  href?: string;
}

export function Breadcrumb({ trail }: { trail: Crumb[] }) {
  return (
    <nav aria-label="Breadcrumb" className="mb-1 text-xs text-slate-600 print:hidden">
      {trail.map((crumb, i) => (
        <span key={`${i}-${crumb.label}`}>
          {i > 0 && ' / '}
          {crumb.href ? (
            <Link href={crumb.href} className="hover:underline">
              {crumb.label}
            </Link>
          ) : (
            <span className="text-slate-900">{crumb.label}</span>
          )}
        </span>
      ))}
    </nav>
  );
}

/** Environments / {environment} / ...rest — the trail of every environment page. */
export function environmentTrail(environment: string, ...rest: Crumb[]): Crumb[] {
  return [{ label: 'Environments', href: '/' }, { label: environment, href: `/environments/${encodeURIComponent(environment)}` }, ...rest];
}
