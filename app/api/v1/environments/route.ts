import { callerFromRequest } from '@/lib/auth/api-token';
import { listEnvironmentStatuses } from '@/lib/status';
import { failure, json, statusDto, unauthorized, wantsFresh } from '../respond';

export const dynamic = 'force-dynamic';

export async function GET(req: Request): Promise<Response> {
  const caller = await callerFromRequest(req);
  if (!caller) return unauthorized();
  try {
    const statuses = await listEnvironmentStatuses(caller, { fresh: wantsFresh(req) });
    return json({ environments: statuses.map(statusDto) });
  } catch (err) {
    return failure(err, 'listing the environments');
  }
}
