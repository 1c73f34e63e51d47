import { callerFromRequest } from '@/lib/auth/api-token';
import { getEnvironmentStatus } from '@/lib/status';
import { failure, json, notFound, statusDto, unauthorized, wantsFresh } from '../../../respond';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';

export const dynamic = 'force-dynamic';

export async function GET(req: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  const caller = await callerFromRequest(req);
  if (!caller) return unauthorized();
  const { name } = await params;
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) return notFound(name);
  try {
    return json(statusDto(await getEnvironmentStatus(caller, name, { fresh: wantsFresh(req) })));
  } catch (err) {
    return failure(err, `checking ${name}`);
  }
}
