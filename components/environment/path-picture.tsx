import type { BackendFacts, CheckId, CheckResult, CheckStatus } from '@/lib/checks/types';
import { checkStatusLabel } from '@/components/status/status-badge';
import { checkTitle, sectionOf, type Section } from '@/components/status/check-names';

// LinkBox's database path as a picture: where the backends read their credentials, the backends
// themselves (one line each: its container, and whether the VPC lets it through), the network
// between them and the database, and RDS — each node coloured by its checks, the root cause marked,
// each node a link to its panel. Server-rendered SVG: it reads without
// colour (a word and a symbol per node, a dashed border for "could not check", a thick one for the
// root cause) and without images (a text list beside it for screen readers and print).

interface PathNode {
  key: string;
  label: string;
  /** The panels whose checks make up this node. */
  sections: Section[];
}

const AWS_PATH: PathNode[] = [
  { key: 'ssm', label: 'SSM parameters', sections: ['SSM'] },
  { key: 'backends', label: 'Backends and containers', sections: ['Containers'] },
  { key: 'network', label: 'Security groups, ACLs', sections: ['Network'] },
  { key: 'rds', label: 'RDS and login', sections: ['RDS', 'Database'] },
];

const LOCAL_PATH: PathNode[] = [
  { key: 'backends', label: 'Local backend', sections: ['Containers'] },
  { key: 'database', label: 'DATABASE_URL and PostgreSQL', sections: ['Database'] },
];

const ORDER: CheckStatus[] = ['fail', 'error', 'warn', 'skip', 'pass'];

const STYLE: Record<CheckStatus, { fill: string; stroke: string; text: string; symbol: string }> = {
  pass: { fill: '#ecfdf5', stroke: '#059669', text: '#065f46', symbol: '✓' },
  warn: { fill: '#fffbeb', stroke: '#d97706', text: '#78350f', symbol: '!' },
  fail: { fill: '#fef2f2', stroke: '#dc2626', text: '#991b1b', symbol: '✕' },
  skip: { fill: '#f1f5f9', stroke: '#64748b', text: '#334155', symbol: '–' },
  error: { fill: '#f5f3ff', stroke: '#7c3aed', text: '#5b21b6', symbol: '?' },
};

const NODE_W = 170;
const NODE_H = 74;
/** Backends drawn one line each; more are counted on one last line. */
const MAX_BACKEND_LINES = 6;
const LINE_H = 15;
const GAP = 46;
const PAD = 8;

export interface PathNodeState {
  key: string;
  label: string;
  status: CheckStatus;
  /** The panel to jump to for the evidence. */
  anchor: string;
  isRootCause: boolean;
  /** "3 checks: 2 pass, 1 fail". */
  detail: string;
  checks: CheckResult[];
}

/** Each node's worst status, and whether it holds the root cause. Exported for tests. */
export function pathNodes(kind: 'aws' | 'local', checks: CheckResult[], rootCause: CheckId | null): PathNodeState[] {
  return (kind === 'aws' ? AWS_PATH : LOCAL_PATH).map((node) => {
    const mine = checks.filter((c) => node.sections.includes(sectionOf(c.id)));
    const status = ORDER.find((s) => mine.some((c) => c.status === s)) ?? 'skip';
    const counts = ORDER.filter((s) => mine.some((c) => c.status === s)).map((s) => `${mine.filter((c) => c.status === s).length} ${checkStatusLabel(s).toLowerCase()}`);
    return {
      key: node.key,
      label: node.label,
      status: mine.length === 0 ? 'skip' : status,
      anchor: `#section-${node.sections[0]}`,
      isRootCause: !!rootCause && mine.some((c) => c.id === rootCause),
      detail: mine.length === 0 ? 'no checks yet' : `${mine.length} check${mine.length === 1 ? '' : 's'}: ${counts.join(', ')}`,
      checks: mine,
    };
  });
}

export interface BackendLine {
  label: string;
  status: CheckStatus;
  /** One or two words for the picture: "ok", "dropped", "exited", "stopped". */
  word: string;
  /** "container running, path open". */
  text: string;
}

/** One line per backend: a stopped instance is skipped, a container not running or a path dropped fails, what was not read is "could not check". */
export function backendLines(backends: readonly BackendFacts[]): BackendLine[] {
  const names = backends.map((b) => b.name);
  return backends.map((b) => {
    // Instances of one deploy often share their Name tag: then only the id tells them apart.
    const label = b.name && names.filter((n) => n === b.name).length === 1 ? b.name : b.id;
    if (b.state !== 'running') return { label, status: 'skip', word: b.state ?? 'unknown', text: `instance ${b.state ?? 'state unknown'}` };
    const text = `container ${b.container ?? 'not read'}, path ${b.path ?? 'not evaluated'}`;
    if (b.container !== null && b.container !== 'running') return { label, status: 'fail', word: b.container, text };
    if (b.path === 'dropped') return { label, status: 'fail', word: 'dropped', text };
    if (b.container === null || b.path === 'unknown') return { label, status: 'error', word: 'not read', text };
    return { label, status: 'pass', word: 'ok', text };
  });
}

export function PathPicture({ kind, checks, rootCause, backends = [] }: { kind: 'aws' | 'local'; checks: CheckResult[]; rootCause: CheckId | null; backends?: readonly BackendFacts[] }) {
  const nodes = pathNodes(kind, checks, rootCause);
  const lines = backendLines(backends);
  const shown = lines.length > MAX_BACKEND_LINES ? lines.slice(0, MAX_BACKEND_LINES - 1) : lines;
  const more = lines.length - shown.length;
  const linesHeight = (shown.length + (more > 0 ? 1 : 0)) * LINE_H;
  const width = PAD * 2 + nodes.length * NODE_W + (nodes.length - 1) * GAP;
  const height = PAD * 2 + NODE_H + linesHeight + 18;
  const summary = nodes.map((n) => `${n.label}: ${checkStatusLabel(n.status)}${n.isRootCause ? ' (root cause)' : ''}`).join('; ');
  return (
    <figure aria-labelledby="path-caption" className="mt-3 rounded-md border border-slate-200 bg-white p-2 shadow-sm print:shadow-none">
      <figcaption id="path-caption" className="px-1 text-xs font-bold uppercase tracking-wide text-slate-600">
        The database path
      </figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={`The database path: ${summary}`} className="max-h-40 print:max-h-none">
        <defs>
          <marker id="path-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#475569" />
          </marker>
        </defs>
        {nodes.map((node, i) => {
          const x = PAD + i * (NODE_W + GAP);
          const s = STYLE[node.status];
          const listsBackends = node.key === 'backends' && shown.length > 0;
          const nodeH = NODE_H + (listsBackends ? linesHeight : 0);
          return (
            <g key={node.key} data-node={node.key} data-status={node.status} data-root-cause={node.isRootCause ? 'true' : undefined}>
              {i > 0 && <line x1={x - GAP + 4} y1={PAD + NODE_H / 2} x2={x - 4} y2={PAD + NODE_H / 2} stroke="#475569" strokeWidth="1.5" markerEnd="url(#path-arrow)" />}
              <a href={node.anchor}>
                <title>{`${node.label}: ${checkStatusLabel(node.status)}${node.isRootCause ? ', root cause' : ''} — ${node.detail}`}</title>
                <rect
                  x={x}
                  y={PAD}
                  width={NODE_W}
                  height={nodeH}
                  rx="6"
                  fill={s.fill}
                  stroke={node.isRootCause ? '#7f1d1d' : s.stroke}
                  strokeWidth={node.isRootCause ? 4 : 1.5}
                  strokeDasharray={node.status === 'error' ? '5 3' : undefined}
                />
                <text x={x + NODE_W / 2} y={PAD + 22} textAnchor="middle" fontSize="13" fontWeight="600" fill="#0f172a">
                  {node.label}
                </text>
                <text x={x + NODE_W / 2} y={PAD + 42} textAnchor="middle" fontSize="13" fontWeight="700" fill={s.text}>
                  {`${s.symbol} ${checkStatusLabel(node.status)}`}
                </text>
                <text x={x + NODE_W / 2} y={PAD + 60} textAnchor="middle" fontSize="10" fill="#475569">
                  {node.detail}
                </text>
                {listsBackends &&
                  shown.map((b, j) => (
                    <text key={b.label} x={x + 8} y={PAD + NODE_H + j * LINE_H + 2} fontSize="10" fill={STYLE[b.status].text} data-backend={b.label} data-status={b.status}>
                      <title>{`${b.label}: ${b.text}`}</title>
                      {`${STYLE[b.status].symbol} ${b.label.length > 20 ? `${b.label.slice(0, 19)}…` : b.label} ${b.word}`}
                    </text>
                  ))}
                {listsBackends && more > 0 && (
                  <text x={x + 8} y={PAD + NODE_H + shown.length * LINE_H + 2} fontSize="10" fill="#475569">
                    {`+ ${more} more (see Containers)`}
                  </text>
                )}
              </a>
              {node.isRootCause && (
                <text x={x + NODE_W / 2} y={PAD + nodeH + 14} textAnchor="middle" fontSize="11" fontWeight="700" fill="#7f1d1d">
                  ROOT CAUSE
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <ol className="sr-only print:not-sr-only print:mt-1 print:list-decimal print:pl-6 print:text-xs">
        {nodes.map((node) => (
          <li key={node.key}>
            <a href={node.anchor}>{node.label}</a>: {checkStatusLabel(node.status)}
            {node.isRootCause ? ' — root cause' : ''} ({node.detail}
            {node.checks.some((c) => c.status !== 'pass') ? `; ${node.checks.filter((c) => c.status !== 'pass').map((c) => checkTitle(c.id)).join(', ')}` : ''})
            {node.key === 'backends' && lines.length > 0 && (
              <ul className="print:list-disc print:pl-6">
                {lines.map((b) => (
                  <li key={b.label}>
                    {b.label}: {checkStatusLabel(b.status)} — {b.text}
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ol>
    </figure>
  );
}
