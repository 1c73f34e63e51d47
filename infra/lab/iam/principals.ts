import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { XMLParser } from 'fast-xml-parser';
import { NoSuchEntityError, roleOfInstanceProfile } from './policies';
import type { World } from './world';

// Who is calling, from the access key id in the SigV4 Authorization header, as AWS resolves it:
// - a session of a role: temporary keys AssumeRole issued through the gateway (recorded with the
//   session policy the request passed), or that moto knows (its GetCallerIdentity answers for them);
// - an EC2 instance's role: the backends sign with `LABHOST-<instance id>`, the lab's stand-in for
//   the instance metadata credentials of the instance profile's role (session name: instance id);
// - an IAM user, for access keys moto issued (CreateAccessKey);
// - the lab's admin: any other key (the seed's, the console's LABCONSOLE, the CLI's "testing"),
//   the account root as far as IAM is concerned, unrestricted. A key can be bound to a principal
//   instead (LABCONSOLE, once the console is meant to run as a role).

export type Principal =
  | { kind: 'admin'; arn: string; id: string; accountId: string }
  | {
      kind: 'role-session';
      arn: string;
      id: string;
      accountId: string;
      roleName: string;
      sessionName: string;
      /** The inline session policy AssumeRole was given, if any: it caps the role's permissions. */
      sessionPolicy: string | null;
    }
  | { kind: 'user'; arn: string; id: string; accountId: string; userName: string }
  /** A key the lab recognises but that has no credentials behind it (an instance without a role). */
  | { kind: 'invalid'; reason: string };

export const HOST_KEY_PREFIX = 'LABHOST-';

/** How long a resolved host key or user key is trusted before it is looked up again. */
const TTL_MS = 2000;

export interface PrincipalResolver {
  resolve(accessKeyId: string | null, region: string): Promise<Principal>;
  /** Records the session an AssumeRole answer created. */
  recordSession(accessKeyId: string, session: { arn: string; sessionPolicy: string | null }): void;
  /** Makes `accessKeyId` act as the IAM user or role session ARN given, instead of the lab's admin. */
  bind(accessKeyId: string, principalArn: string): void;
  /** IAM changed (a key deleted, a profile's role replaced): look again. */
  forget(): void;
}

export function createPrincipalResolver(options: { motoUrl: string; world: World }): PrincipalResolver {
  const { world } = options;
  const sessions = new Map<string, Principal>();
  const bound = new Map<string, string>();
  /** Keys moto never issued stay the lab's admin: moto's keys are random, so none can become one later. */
  const admins = new Set<string>();
  const cached = new Map<string, { at: number; principal: Promise<Principal> }>();

  const admin = async (): Promise<Principal> => {
    const accountId = await world.accountId();
    return { kind: 'admin', arn: `arn:aws:iam::${accountId}:root`, id: accountId, accountId };
  };

  const hostPrincipal = async (instanceId: string, region: string): Promise<Principal> => {
    const facts = (await world.instances(region, [instanceId])).get(instanceId);
    if (!facts) return { kind: 'invalid', reason: `no EC2 instance ${instanceId}` };
    const profileName = facts.instanceProfileArn?.split('/').pop();
    if (!profileName) return { kind: 'invalid', reason: `instance ${instanceId} has no instance profile` };
    const role = await roleOfInstanceProfile(world.iam, profileName).catch((err: unknown) => {
      if (err instanceof NoSuchEntityError) return undefined;
      throw err;
    });
    if (!role) return { kind: 'invalid', reason: `instance profile ${profileName} has no role` };
    const accountId = await world.accountId();
    return principalOf(`arn:aws:sts::${accountId}:assumed-role/${role}/${instanceId}`)!;
  };

  const askMoto = async (accessKeyId: string): Promise<Principal> => {
    const sts = new STSClient({ region: 'us-east-1', endpoint: options.motoUrl, credentials: { accessKeyId, secretAccessKey: 'lab-resolve' }, maxAttempts: 2 });
    try {
      const out = await sts.send(new GetCallerIdentityCommand({}));
      const known = principalOf(out.Arn ?? '');
      if (known) return known;
      // moto's answer for keys it never issued: arn:aws:sts::<account>:user/moto.
      admins.add(accessKeyId);
      return admin();
    } finally {
      sts.destroy();
    }
  };

  const lookUp = async (accessKeyId: string, region: string): Promise<Principal> => {
    const boundArn = bound.get(accessKeyId);
    if (boundArn) return principalOf(boundArn) ?? admin();
    if (accessKeyId.startsWith(HOST_KEY_PREFIX)) return hostPrincipal(accessKeyId.slice(HOST_KEY_PREFIX.length), region);
    return askMoto(accessKeyId);
  };

  return {
    async resolve(accessKeyId, region) {
      if (!accessKeyId || (admins.has(accessKeyId) && !bound.has(accessKeyId))) return admin();
      const session = sessions.get(accessKeyId);
      if (session) return session;
      const hit = cached.get(accessKeyId);
      if (hit && Date.now() - hit.at < TTL_MS) return hit.principal;
      const principal = lookUp(accessKeyId, region);
      cached.set(accessKeyId, { at: Date.now(), principal });
      principal.catch(() => cached.delete(accessKeyId));
      return principal;
    },
    recordSession(accessKeyId, { arn, sessionPolicy }) {
      const principal = principalOf(arn, sessionPolicy);
      if (principal) sessions.set(accessKeyId, principal);
    },
    bind(accessKeyId, principalArn) {
      bound.set(accessKeyId, principalArn);
      cached.delete(accessKeyId);
    },
    forget() {
      cached.clear();
    },
  };
}

/** A role session or an IAM user from its ARN; undefined for anything else. */
function principalOf(arn: string, sessionPolicy: string | null = null): Principal | undefined {
  const session = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (session) {
    const [, accountId, roleName, sessionName] = session as unknown as [string, string, string, string];
    return { kind: 'role-session', arn, id: `${roleName}:${sessionName}`, accountId, roleName, sessionName, sessionPolicy };
  }
  const user = /^arn:aws[a-z-]*:iam::(\d{12}):user\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (user) return { kind: 'user', arn, id: user[2]!, accountId: user[1]!, userName: user[2]! };
  return undefined;
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

/** The new session's key and ARN from an AssumeRole answer (query XML). */
export function sessionFromAssumeRoleXml(body: string): { accessKeyId: string; arn: string } | undefined {
  try {
    const result = (parser.parse(body) as { AssumeRoleResponse?: { AssumeRoleResult?: { Credentials?: { AccessKeyId?: string }; AssumedRoleUser?: { Arn?: string } } } })
      .AssumeRoleResponse?.AssumeRoleResult;
    const accessKeyId = result?.Credentials?.AccessKeyId;
    const arn = result?.AssumedRoleUser?.Arn;
    return accessKeyId && arn ? { accessKeyId, arn } : undefined;
  } catch {
    return undefined;
  }
}
