import { getEnvironmentHistory } from '@/lib/watcher';
import { environmentRoute, historyDto, json } from '../../../respond';

export const dynamic = 'force-dynamic';

export function GET(req: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  return environmentRoute(req, params, (name) => `reading the history of ${name}`, async (caller, name) => json(historyDto(await getEnvironmentHistory(caller, name))));
}
