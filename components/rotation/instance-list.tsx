import type { InstanceRestartView } from '@/lib/operations/types';
import { ProgressStatusBadge } from './progress-status';
import { clockTime, duration } from './time';

// A rolling redeploy, one backend instance per row, in the order they are restarted.

export function InstanceList({ instances }: { instances: InstanceRestartView[] }) {
  if (instances.length === 0) return <p className="text-sm text-slate-600">Finding the backend instances…</p>;
  return (
    <ol aria-label="Backend instances" className="divide-y divide-slate-100 rounded border border-slate-200 bg-white">
      {instances.map((instance) => {
        const took = duration(instance.startedAt, instance.finishedAt);
        return (
          <li
            key={instance.instanceId}
            data-instance-id={instance.instanceId}
            data-status={instance.status}
            className="flex flex-wrap items-start gap-x-3 gap-y-1 px-3 py-2"
          >
            <ProgressStatusBadge status={instance.status} />
            <div className="min-w-0 flex-1">
              <p className="text-sm font-medium text-slate-900">
                <span className="font-mono">{instance.instanceId}</span>
                {instance.name && <span className="ml-2 text-slate-600">{instance.name}</span>}
              </p>
              {instance.phase && instance.status === 'running' && <p className="text-xs text-sky-900">{instance.phase}</p>}
              {instance.detail && <p className="text-xs break-words text-slate-700">{instance.detail}</p>}
              {instance.commandId && <p className="font-mono text-[11px] text-slate-500">command {instance.commandId}</p>}
            </div>
            <p className="shrink-0 font-mono text-[11px] text-slate-500">
              {instance.startedAt ? (
                <>
                  {clockTime(instance.startedAt)}
                  {instance.finishedAt && ` → ${clockTime(instance.finishedAt)}`}
                  {took && ` (${took})`}
                </>
              ) : (
                'waiting'
              )}
            </p>
          </li>
        );
      })}
    </ol>
  );
}
