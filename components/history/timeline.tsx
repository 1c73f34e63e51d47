import type { CSSProperties } from 'react';
import { dateTime } from '@/components/rotation/time';
import { checkTitle } from '@/components/status/check-names';
import { RelativeTime } from '@/components/status/relative-time';
import type { CheckId } from '@/lib/checks/types';
import type { EnvironmentHistory, TimelineState, TimelineWindow } from '@/lib/watcher';
import { percent, spanInWords } from './format';

// An environment's history: a strip per window, each stretch of time in its state, then the
// incidents and the availability figures. Every state has a pattern as well as a colour and a
// label in words, so the strip reads in greyscale, in print and to a screen reader.

const STATE: Record<TimelineState, { label: string; style: CSSProperties }> = {
  healthy: { label: 'Healthy', style: { backgroundColor: '#059669' } },
  degraded: { label: 'Degraded', style: { backgroundImage: 'repeating-linear-gradient(45deg, #d97706 0 2px, #fde68a 2px 6px)' } },
  broken: { label: 'Broken', style: { backgroundImage: 'repeating-linear-gradient(-45deg, #b91c1c 0 3px, #fecaca 3px 5px), linear-gradient(#b91c1c, #b91c1c)' } },
  unknown: { label: 'Could not check', style: { backgroundImage: 'radial-gradient(#6d28d9 1.2px, #ede9fe 1.3px)', backgroundSize: '5px 5px' } },
  'no-data': { label: 'No data (watcher not running)', style: { backgroundColor: '#ffffff' } },
};

const PRINTABLE: CSSProperties = { printColorAdjust: 'exact', WebkitPrintColorAdjust: 'exact' };
const ORDER: TimelineState[] = ['healthy', 'degraded', 'broken', 'unknown', 'no-data'];

function Strip({ window, id }: { window: TimelineWindow; id: string }) {
  const total = Date.parse(window.to) - Date.parse(window.from);
  const { byState, healthyShare } = window.availability;
  return (
    <figure aria-labelledby={id} className="mt-3" data-window={window.label}>
      <figcaption id={id} className="flex flex-wrap items-baseline gap-x-3 text-sm">
        <span className="font-semibold text-slate-900">{window.label}</span>
        <span className="text-slate-700" data-availability={healthyShare ?? ''}>
          {healthyShare === null ? 'No state known in this window' : `Healthy ${percent(healthyShare)} of the checked time`}
        </span>
      </figcaption>
      <ol aria-label={`${window.label}, oldest first`} className="mt-1 flex h-6 w-full overflow-hidden rounded border border-slate-400 bg-white" style={PRINTABLE}>
        {window.segments.map((s) => {
          const ms = Date.parse(s.to) - Date.parse(s.from);
          const words = `${STATE[s.state].label} from ${dateTime(s.from)} to ${dateTime(s.to)} (${spanInWords(ms)})`;
          return (
            <li
              key={s.from}
              title={words}
              data-state={s.state}
              className="h-full border-r border-white/60 last:border-r-0"
              style={{ ...STATE[s.state].style, ...PRINTABLE, flexGrow: ms / total, flexShrink: 0, flexBasis: 0, minWidth: s.state === 'healthy' || s.state === 'no-data' ? 0 : 3 }}
            >
              <span className="sr-only">{words}</span>
            </li>
          );
        })}
      </ol>
      <div className="mt-0.5 flex justify-between font-mono text-[11px] text-slate-500">
        <span>{dateTime(window.from)}</span>
        <span>now</span>
      </div>
      <ul aria-label={`Time per state, ${window.label.toLowerCase()}`} className="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-xs text-slate-700">
        {ORDER.filter((s) => byState[s] > 0).map((s) => (
          <li key={s} className="flex items-center gap-1.5">
            <span aria-hidden="true" className="inline-block h-3 w-5 rounded-sm border border-slate-400" style={{ ...STATE[s].style, ...PRINTABLE }} />
            {STATE[s].label}: {spanInWords(byState[s])} ({percent(byState[s] / total)})
          </li>
        ))}
      </ul>
    </figure>
  );
}

export function HistoryTimeline({ history }: { history: EnvironmentHistory }) {
  const now = new Date(history.generatedAt);
  return (
    <section aria-labelledby="history" className="mt-4 overflow-hidden rounded-md border border-slate-200 bg-white shadow-sm break-inside-avoid">
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-slate-200 bg-slate-100 px-3 py-1.5">
        <h2 id="history" className="text-sm font-bold uppercase tracking-wide text-slate-700">
          History
        </h2>
        <span className="text-xs text-slate-600">
          {history.lastLookAt ? (
            <>
              Watched every {history.intervalSeconds} s; last look <RelativeTime iso={history.lastLookAt} now={now} />
            </>
          ) : (
            'The watcher has not looked at this environment yet.'
          )}
        </span>
      </header>
      <div className="px-3 pb-3">
        {history.windows.map((w, i) => (
          <Strip key={w.label} window={w} id={`history-window-${i}`} />
        ))}
        <h3 className="mt-4 text-sm font-semibold text-slate-900">Incidents (last {history.retentionDays} days)</h3>
        {history.incidents.length === 0 ? (
          <p className="mt-1 text-sm text-slate-600">No incident: the watcher never saw this environment broken in that time.</p>
        ) : (
          <table aria-label="Incidents" className="mt-1 w-full text-left text-sm">
            <thead className="text-xs uppercase tracking-wide text-slate-500">
              <tr>
                <th scope="col" className="py-1 pr-3 font-semibold">Start</th>
                <th scope="col" className="py-1 pr-3 font-semibold">End</th>
                <th scope="col" className="py-1 pr-3 font-semibold">Duration</th>
                <th scope="col" className="py-1 font-semibold">Root cause</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {history.incidents.map((incident) => (
                <tr key={incident.start} data-incident-start={incident.start} className="align-top">
                  <td className="py-1 pr-3 font-mono text-xs whitespace-nowrap">{dateTime(incident.start)}</td>
                  <td className="py-1 pr-3 font-mono text-xs whitespace-nowrap">{incident.end ? dateTime(incident.end) : <strong className="text-red-800">ongoing</strong>}</td>
                  <td className="py-1 pr-3 whitespace-nowrap">{spanInWords(incident.durationMs)}</td>
                  <td className="py-1">
                    {incident.rootCauses.length === 0 && <span className="text-slate-600">not named</span>}
                    {incident.rootCauses.map((cause, i) => (
                      <p key={i}>
                        {checkTitle(cause.check as CheckId)} <span className="font-mono text-xs text-slate-600">({cause.check})</span>
                        {cause.summary && <span className="block text-xs text-slate-700">{cause.summary}</span>}
                      </p>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
    </section>
  );
}
