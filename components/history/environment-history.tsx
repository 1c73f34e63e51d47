import type { Caller } from '@/lib/roles';
import { getEnvironmentHistory } from '@/lib/watcher';
import { HistoryTimeline } from './timeline';

// The environment page's history section, on its own: it reads what it shows (the store only, no
// AWS call), so the page can render or stream it apart from the live status.
export async function EnvironmentHistory({ caller, environment }: { caller: Caller; environment: string }) {
  return <HistoryTimeline history={await getEnvironmentHistory(caller, environment)} />;
}
