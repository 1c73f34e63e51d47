import type { AwsCall } from '../contract';

// Reads an AWS API request the way AWS routes it: the service from the SigV4 credential scope, the
// action from X-Amz-Target (JSON protocol) or the Action parameter (query protocol).

const TARGET_PREFIX_SERVICE: Record<string, string> = { AmazonSSM: 'ssm', TrentService: 'kms' };

export interface RequestParts {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function parseAwsCall(req: RequestParts, defaultRegion: string): AwsCall | undefined {
  const url = new URL(req.url, 'http://lab');
  const scope = credentialScope(header(req.headers, 'authorization') ?? url.searchParams.get('X-Amz-Credential') ?? '');
  const target = header(req.headers, 'x-amz-target');

  if (target) {
    const dot = target.lastIndexOf('.');
    const prefix = dot > 0 ? target.slice(0, dot) : '';
    const action = dot > 0 ? target.slice(dot + 1) : target;
    const service = scope?.service ?? TARGET_PREFIX_SERVICE[prefix];
    if (!service || !action) return undefined;
    let input: Record<string, unknown> = {};
    if (req.body.length > 0) {
      try {
        const parsed: unknown = JSON.parse(req.body.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed as Record<string, unknown>;
      } catch {
        // moto answers a malformed body in the service's own words
      }
    }
    return { service, action, region: scope?.region ?? defaultRegion, protocol: 'json', input, accessKeyId: scope?.accessKeyId ?? null };
  }

  const params: Record<string, string> = {};
  for (const [k, v] of url.searchParams) params[k] = v;
  const contentType = header(req.headers, 'content-type') ?? '';
  if (req.body.length > 0 && (contentType.includes('x-www-form-urlencoded') || contentType === '')) {
    for (const [k, v] of new URLSearchParams(req.body.toString('utf8'))) params[k] = v;
  }
  const action = params.Action;
  if (!scope?.service || !action) return undefined;
  return { service: scope.service, action, region: scope.region, protocol: 'query', input: params, accessKeyId: scope.accessKeyId };
}

function credentialScope(text: string): { accessKeyId: string; region: string; service: string } | undefined {
  const match = /Credential=([^/,\s]+)\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/.exec(text) ?? /^([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request$/.exec(text);
  if (!match) return undefined;
  return { accessKeyId: match[1]!, region: match[2]!, service: match[3]! };
}

function header(headers: RequestParts['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
