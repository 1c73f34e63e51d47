import { getEnvironmentStatus } from '@/lib/status';
import { environmentRoute, json, statusDto, wantsFresh } from '../../../respond';

export const dynamic = 'force-dynamic';

export function GET(req: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  return environmentRoute(req, params, (name) => `checking ${name}`, async (caller, name) => json(statusDto(await getEnvironmentStatus(caller, name, { fresh: wantsFresh(req) }))));
}
