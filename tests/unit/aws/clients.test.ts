// The STS client fromTemporaryCredentials makes for itself.
import { AssumeRoleCommand, STSClient } from '@aws-sdk/nested-clients/sts';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { awsClients } from '@/lib/aws/clients';
import { setConfigForTests } from '@/lib/config/load';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// Assume-role credentials as the console's clients use them: one STS session for all four clients
// of a scope, signed in the lab with the console's lab key, renewed shortly before it expires. STS is
// mocked: the lab cannot hand out a session about to expire on demand.

const sts = mockClient(STSClient);
afterAll(() => sts.restore());

let roleNumber = 0;
function environment(): AwsEnvironmentConfig {
  // A role of its own per test: clients are kept per scope for the process.
  const config = setConfigForTests({
    mode: 'lab',
    environments: [
      {
        name: 'production',
        kind: 'aws',
        region: 'us-east-1',
        endpoint: 'http://127.0.0.1:4566',
        credentials: { source: 'assume-role', roleArn: `arn:aws:iam::123456789012:role/console-${++roleNumber}`, externalId: 'x-1' },
        rdsInstanceId: 'linkbox-db',
        dbSecurityGroup: { ids: ['sg-1'] },
        backendSecurityGroup: { ids: ['sg-2'] },
        backendInstances: { ids: ['i-1'] },
      },
    ],
  });
  return config.environments[0] as AwsEnvironmentConfig;
}

function session(id: string, expiresInMs: number) {
  return { Credentials: { AccessKeyId: id, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + expiresInMs) } };
}

const credentialsOf = async (client: { config: { credentials: () => Promise<{ accessKeyId: string }> } }) => (await client.config.credentials()).accessKeyId;

describe('assume-role credentials', () => {
  beforeEach(() => sts.reset());

  it('are one session for every client of the scope, asked for with the role, the external id and the lab key as source', async () => {
    sts.on(AssumeRoleCommand).resolves(session('ASIAONE', 3_600_000));
    const clients = awsClients(environment());
    const keys = await Promise.all([clients.ssm, clients.rds, clients.ec2, clients.iam].map((c) => credentialsOf(c as never)));
    expect(keys).toEqual(['ASIAONE', 'ASIAONE', 'ASIAONE', 'ASIAONE']);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(1);
    expect(sts.commandCalls(AssumeRoleCommand)[0]!.args[0].input).toMatchObject({ RoleArn: `arn:aws:iam::123456789012:role/console-${roleNumber}`, ExternalId: 'x-1', RoleSessionName: 'linkbox-ops-console' });
    const source = await sts.commandCalls(AssumeRoleCommand)[0]!.thisValue.config.credentials();
    expect(source.accessKeyId).toBe('LABCONSOLE');
  });

  it('are asked again after a failed AssumeRole, and renewed once, for all clients, when five minutes are left', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      sts.on(AssumeRoleCommand).rejectsOnce(Object.assign(new Error('throttled'), { name: 'Throttling' })).resolvesOnce(session('ASIAFIRST', 10 * 60_000)).resolves(session('ASIANEXT', 3_600_000));
      const { ssm, rds } = awsClients(environment());
      await expect(credentialsOf(ssm as never)).rejects.toThrow('throttled');
      expect(await Promise.all([credentialsOf(ssm as never), credentialsOf(rds as never)])).toEqual(['ASIAFIRST', 'ASIAFIRST']);
      expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
      vi.setSystemTime(Date.now() + 6 * 60_000);
      expect(await Promise.all([credentialsOf(ssm as never), credentialsOf(rds as never)])).toEqual(['ASIANEXT', 'ASIANEXT']);
      expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
