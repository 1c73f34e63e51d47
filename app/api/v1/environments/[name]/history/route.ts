import { callerFromRequest } from '@/lib/auth/api-token';
import { ENVIRONMENT_NAME_PATTERN } from '@/lib/config/schema';
import { getEnvironmentHistory } from '@/lib/watcher';
import { failure, historyDto, json, notFound, unauthorized } from '../../../respond';

export const dynamic = 'force-dynamic';

export async function GET(req: Request, { params }: { params: Promise<{ name: string }> }): Promise<Response> {
  const caller = await callerFromRequest(req);
  if (!caller) return unauthorized();
  const { name } = await params;
  if (!ENVIRONMENT_NAME_PATTERN.test(name)) return notFound(name);
  try {
    return json(historyDto(await getEnvironmentHistory(caller, name)));
  } catch (err) {
    return failure(err, `reading the history of ${name}`);
  }
}
