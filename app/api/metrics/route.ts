import { callerFromRequest } from '@/lib/auth/api-token';
import { renderMetrics } from '@/lib/metrics';
import { failure, unauthorized } from '../v1/respond';

// Prometheus scrapes here with a bearer token from OPS_API_TOKENS (a session works too); anonymous requests get 401.
export const dynamic = 'force-dynamic';

export async function GET(req: Request): Promise<Response> {
  const caller = await callerFromRequest(req);
  if (!caller) return unauthorized();
  try {
    const { contentType, body } = await renderMetrics(caller);
    return new Response(body, { headers: { 'Content-Type': contentType, 'Cache-Control': 'no-store' } });
  } catch (err) {
    return failure(err, 'collecting the metrics');
  }
}
