import { GetParametersByPathCommand, GetParametersCommand, SSMClient, type Parameter } from '@aws-sdk/client-ssm';
import type { AwsCall } from '../contract';
import type { ServiceError } from './replies';

// The "KMS denied" fault: SSM itself still answers, but anything that needs the SecureString's key
// fails the way it does when the key policy or the caller's role lacks kms:Decrypt / kms:Encrypt.
// Whether a parameter is a SecureString is asked of moto directly, so the lookup is not counted.

const READS = new Set(['GetParameter', 'GetParameters', 'GetParametersByPath', 'GetParameterHistory']);

export function createKmsDeniedCheck(motoUrl: string) {
  const clients = new Map<string, SSMClient>();
  const ssm = (region: string) => {
    let client = clients.get(region);
    if (!client) {
      client = new SSMClient({ region, endpoint: motoUrl, credentials: { accessKeyId: 'lab-internal', secretAccessKey: 'lab-internal' }, maxAttempts: 1 });
      clients.set(region, client);
    }
    return client;
  };

  return async function kmsDenial(call: AwsCall): Promise<ServiceError | undefined> {
    if (call.service !== 'ssm') return undefined;
    const input = call.input;
    if (call.action === 'PutParameter') {
      if (input.Type !== 'SecureString') return undefined;
      return denial('kms:Encrypt', typeof input.KeyId === 'string' ? input.KeyId : 'alias/aws/ssm', String(input.Name ?? ''));
    }
    if (!READS.has(call.action) || input.WithDecryption !== true) return undefined;

    let secure: Parameter | undefined;
    try {
      secure = (await secureStrings(ssm(call.region), call.action, input))[0];
    } catch {
      return undefined; // moto will answer the call itself (e.g. ParameterNotFound)
    }
    if (!secure) return undefined;
    return denial('kms:Decrypt', 'alias/aws/ssm', secure.Name ?? '');
  };
}

async function secureStrings(ssm: SSMClient, action: string, input: Record<string, unknown>): Promise<Parameter[]> {
  if (action === 'GetParametersByPath') {
    const found: Parameter[] = [];
    let NextToken: string | undefined;
    do {
      const page = await ssm.send(
        new GetParametersByPathCommand({ Path: String(input.Path ?? '/'), Recursive: input.Recursive === true, WithDecryption: false, NextToken }),
      );
      found.push(...(page.Parameters ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    return found.filter((p) => p.Type === 'SecureString');
  }
  const names = action === 'GetParameters' ? (Array.isArray(input.Names) ? input.Names.map(String) : []) : [String(input.Name ?? '')];
  if (names.length === 0) return [];
  // A selector such as "name:3" names a version; the type is the same for every version.
  const plain = names.map((n) => n.replace(/:[^/:]+$/, ''));
  const out = await ssm.send(new GetParametersCommand({ Names: [...new Set(plain)], WithDecryption: false }));
  return (out.Parameters ?? []).filter((p) => p.Type === 'SecureString');
}

function denial(permission: 'kms:Decrypt' | 'kms:Encrypt', key: string, parameter: string): ServiceError {
  return {
    code: 'AccessDeniedException',
    message: `KMS denied ${permission} on key ${key} (used by parameter ${parameter}): the caller is not authorized to use this key (lab fault kms-denied)`,
    status: 400,
    type: 'Sender',
  };
}
