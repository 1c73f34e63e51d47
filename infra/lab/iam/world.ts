import { DescribeInstancesCommand, DescribeTagsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, KMSClient } from '@aws-sdk/client-kms';
import { ListTagsForResourceCommand, RDSClient } from '@aws-sdk/client-rds';
import { DescribeParametersCommand, GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

// What authorization needs to know about the resources a call names — a parameter's type and key,
// a key's ARN and policy, an instance's tags and profile, a database's tags — read from moto
// directly, so these look-ups never show in the request counters the console is measured by.
// Nothing is cached: a tag changed with the CLI counts on the very next call.

export interface ParameterFacts {
  name: string;
  type: string;
  /** The KMS key a SecureString is encrypted with (alias/aws/ssm unless the writer chose one). */
  keyId: string | undefined;
}

export interface KeyFacts {
  arn: string;
  policy: string;
}

export interface InstanceFacts {
  tags: Record<string, string>;
  instanceProfileArn: string | undefined;
}

export interface World {
  accountId(): Promise<string>;
  /** By name; names that do not exist are absent from the answer. */
  parameters(region: string, names: string[]): Promise<ParameterFacts[]>;
  parametersUnderPath(region: string, path: string, recursive: boolean): Promise<ParameterFacts[]>;
  key(region: string, keyId: string): Promise<KeyFacts | undefined>;
  instances(region: string, ids: string[]): Promise<Map<string, InstanceFacts>>;
  /** The running instances a SendCommand `Targets` list resolves to. */
  instancesByTargets(region: string, targets: Array<{ Key?: string; Values?: string[] }>): Promise<string[]>;
  /** EC2 tags of any resource id (sg-..., i-...). */
  ec2Tags(region: string, ids: string[]): Promise<Map<string, Record<string, string>>>;
  dbTags(region: string, dbArn: string): Promise<Record<string, string>>;
  iam: IAMClient;
  stop(): void;
}

const CREDENTIALS = { accessKeyId: 'lab-internal', secretAccessKey: 'lab-internal' };

export function createWorld(motoUrl: string): World {
  const common = (region: string) => ({
    region,
    endpoint: motoUrl,
    credentials: CREDENTIALS,
    maxAttempts: 2,
    requestHandler: { connectionTimeout: 2000, requestTimeout: 5000 },
  });
  const perRegion = <T extends { destroy(): void }>(make: (region: string) => T) => {
    const clients = new Map<string, T>();
    return {
      get(region: string): T {
        let client = clients.get(region);
        if (!client) clients.set(region, (client = make(region)));
        return client;
      },
      destroy: () => clients.forEach((c) => c.destroy()),
    };
  };
  const ssm = perRegion((r) => new SSMClient(common(r)));
  const kms = perRegion((r) => new KMSClient(common(r)));
  const ec2 = perRegion((r) => new EC2Client(common(r)));
  const rds = perRegion((r) => new RDSClient(common(r)));
  const iam = new IAMClient(common('us-east-1'));
  const sts = new STSClient(common('us-east-1'));
  let account: Promise<string> | undefined;

  const facts = (p: { Name?: string; Type?: string; KeyId?: string }): ParameterFacts => ({ name: p.Name ?? '', type: p.Type ?? 'String', keyId: p.KeyId });

  return {
    accountId() {
      account ??= sts.send(new GetCallerIdentityCommand({})).then((out) => out.Account ?? '123456789012');
      account.catch(() => (account = undefined));
      return account;
    },

    async parameters(region, names) {
      const unique = [...new Set(names.filter(Boolean))];
      const found: ParameterFacts[] = [];
      for (let i = 0; i < unique.length; i += 50) {
        let NextToken: string | undefined;
        do {
          const out = await ssm.get(region).send(
            new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: unique.slice(i, i + 50) }], NextToken }),
          );
          found.push(...(out.Parameters ?? []).map(facts));
          NextToken = out.NextToken;
        } while (NextToken);
      }
      return found;
    },

    async parametersUnderPath(region, path, recursive) {
      const found: ParameterFacts[] = [];
      let NextToken: string | undefined;
      do {
        const out = await ssm.get(region).send(new GetParametersByPathCommand({ Path: path, Recursive: recursive, WithDecryption: false, NextToken }));
        // GetParametersByPath does not report the key; DescribeParameters does.
        const secure = (out.Parameters ?? []).filter((p) => p.Type === 'SecureString').map((p) => p.Name!);
        const keyed = new Map((await this.parameters(region, secure)).map((p) => [p.name, p.keyId]));
        found.push(...(out.Parameters ?? []).map((p) => facts({ Name: p.Name, Type: p.Type, KeyId: keyed.get(p.Name ?? '') })));
        NextToken = out.NextToken;
      } while (NextToken);
      return found;
    },

    async key(region, keyId) {
      try {
        const described = await kms.get(region).send(new DescribeKeyCommand({ KeyId: keyId }));
        const arn = described.KeyMetadata?.Arn;
        if (!arn) return undefined;
        const policy = await kms.get(region).send(new GetKeyPolicyCommand({ KeyId: described.KeyMetadata!.KeyId!, PolicyName: 'default' }));
        return { arn, policy: policy.Policy ?? '{}' };
      } catch (err) {
        if ((err as Error).name === 'NotFoundException') return undefined;
        throw err;
      }
    },

    async instances(region, ids) {
      const found = new Map<string, InstanceFacts>();
      if (ids.length === 0) return found;
      let out;
      try {
        out = await ec2.get(region).send(new DescribeInstancesCommand({ InstanceIds: ids }));
      } catch (err) {
        if ((err as Error).name === 'InvalidInstanceID.NotFound' || (err as Error).name === 'InvalidInstanceID.Malformed') return found;
        throw err;
      }
      for (const instance of (out.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (!instance.InstanceId) continue;
        found.set(instance.InstanceId, {
          tags: Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? ''])),
          instanceProfileArn: instance.IamInstanceProfile?.Arn,
        });
      }
      return found;
    },

    async instancesByTargets(region, targets) {
      const filters = targets.map((t) =>
        t.Key === 'InstanceIds' ? { Name: 'instance-id', Values: t.Values ?? [] } : { Name: t.Key ?? '', Values: t.Values ?? [] },
      );
      const out = await ec2.get(region).send(new DescribeInstancesCommand({ Filters: [...filters, { Name: 'instance-state-name', Values: ['running'] }] }));
      return (out.Reservations ?? []).flatMap((r) => r.Instances ?? []).flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
    },

    async ec2Tags(region, ids) {
      const tags = new Map<string, Record<string, string>>(ids.map((id) => [id, {}]));
      if (ids.length === 0) return tags;
      const out = await ec2.get(region).send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: ids }] }));
      for (const t of out.Tags ?? []) {
        const own = t.ResourceId ? tags.get(t.ResourceId) : undefined;
        if (own && t.Key !== undefined) own[t.Key] = t.Value ?? '';
      }
      return tags;
    },

    async dbTags(region, dbArn) {
      try {
        const out = await rds.get(region).send(new ListTagsForResourceCommand({ ResourceName: dbArn }));
        return Object.fromEntries((out.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
      } catch (err) {
        if ((err as Error).name === 'DBInstanceNotFoundFault' || (err as Error).name === 'DBInstanceNotFound') return {};
        throw err;
      }
    },

    iam,

    stop() {
      for (const c of [ssm, kms, ec2, rds]) c.destroy();
      iam.destroy();
      sts.destroy();
    },
  };
}
