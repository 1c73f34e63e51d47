import {
  GetGroupPolicyCommand,
  GetInstanceProfileCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListGroupPoliciesCommand,
  ListGroupsForUserCommand,
  ListRolePoliciesCommand,
  ListUserPoliciesCommand,
} from '@aws-sdk/client-iam';
import { policyText } from './policy-document';
import type { PolicySource } from './policy-evaluator';

// The policies IAM evaluates for a principal, read from moto's IAM through its own API: inline
// policies (PutRolePolicy, PutUserPolicy, PutGroupPolicy), attached managed policies at their
// default version (AttachRolePolicy, ...), a role's permissions boundary and its trust policy.

/** What IAM holds for a role or user: the policies that grant, the boundary that caps them. */
export interface PrincipalPolicies {
  arn: string;
  identity: PolicySource[];
  boundary: PolicySource | null;
}

export interface RolePolicies extends PrincipalPolicies {
  trust: PolicySource;
}

export class NoSuchEntityError extends Error {
  constructor(
    readonly kind: string,
    readonly entityName: string,
  ) {
    super(`The ${kind} with name ${entityName} cannot be found.`);
    this.name = 'NoSuchEntityError';
  }
}

export class InvalidPrincipalArnError extends Error {}

/** A user, group, role or instance profile (which stands for its role), by ARN. */
export async function principalPolicies(iam: IAMClient, arn: string): Promise<PrincipalPolicies> {
  const match = /^arn:aws[a-z-]*:iam::\d{12}:(role|user|group|instance-profile)\/(?:.*\/)?([^/]+)$/.exec(arn);
  if (!match) throw new InvalidPrincipalArnError(`Invalid ARN: ${arn} is not the ARN of a user, group or role.`);
  const [, kind, name] = match as unknown as [string, string, string];
  if (kind === 'instance-profile') {
    const role = await roleOfInstanceProfile(iam, name);
    if (!role) throw new InvalidPrincipalArnError(`Instance profile ${name} has no role.`);
    return rolePolicies(iam, role);
  }
  if (kind === 'role') return rolePolicies(iam, name);
  if (kind === 'user') return userPolicies(iam, name);
  return { arn, identity: await notFoundAs('group', name, () => groupPolicies(iam, name)), boundary: null };
}

export async function roleOfInstanceProfile(iam: IAMClient, profileName: string): Promise<string | undefined> {
  const profile = await notFoundAs('instance profile', profileName, () => iam.send(new GetInstanceProfileCommand({ InstanceProfileName: profileName })));
  return profile.InstanceProfile?.Roles?.[0]?.RoleName;
}

export async function rolePolicies(iam: IAMClient, role: string): Promise<RolePolicies> {
  return notFoundAs('role', role, async () => {
    const [details, inline, attached] = await Promise.all([
      iam.send(new GetRoleCommand({ RoleName: role })),
      iam.send(new ListRolePoliciesCommand({ RoleName: role })),
      iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role })),
    ]);
    const own = await Promise.all(
      (inline.PolicyNames ?? []).map(async (policy) => {
        const out = await iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }));
        return { id: policy, type: 'role' as const, document: policyText(out.PolicyDocument) };
      }),
    );
    const boundaryArn = details.Role?.PermissionsBoundary?.PermissionsBoundaryArn;
    return {
      arn: details.Role!.Arn!,
      identity: [...own, ...(await managed(iam, attached.AttachedPolicies ?? []))],
      boundary: boundaryArn ? await managedPolicy(iam, boundaryArn, boundaryArn.split('/').pop()!) : null,
      trust: { id: 'AssumeRolePolicyDocument', type: 'resource', document: policyText(details.Role?.AssumeRolePolicyDocument) },
    };
  });
}

export async function userPolicies(iam: IAMClient, user: string): Promise<PrincipalPolicies> {
  return notFoundAs('user', user, async () => {
    const [details, inline, attached, groups] = await Promise.all([
      iam.send(new GetUserCommand({ UserName: user })),
      iam.send(new ListUserPoliciesCommand({ UserName: user })),
      iam.send(new ListAttachedUserPoliciesCommand({ UserName: user })),
      iam.send(new ListGroupsForUserCommand({ UserName: user })),
    ]);
    const own = await Promise.all(
      (inline.PolicyNames ?? []).map(async (policy) => {
        const out = await iam.send(new GetUserPolicyCommand({ UserName: user, PolicyName: policy }));
        return { id: policy, type: 'user' as const, document: policyText(out.PolicyDocument) };
      }),
    );
    const fromGroups = await Promise.all((groups.Groups ?? []).map((g) => groupPolicies(iam, g.GroupName!)));
    const boundaryArn = details.User?.PermissionsBoundary?.PermissionsBoundaryArn;
    return {
      arn: details.User!.Arn!,
      identity: [...own, ...(await managed(iam, attached.AttachedPolicies ?? [])), ...fromGroups.flat()],
      boundary: boundaryArn ? await managedPolicy(iam, boundaryArn, boundaryArn.split('/').pop()!) : null,
    };
  });
}

async function groupPolicies(iam: IAMClient, group: string): Promise<PolicySource[]> {
  const inline = await iam.send(new ListGroupPoliciesCommand({ GroupName: group }));
  const attached = await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: group }));
  const own = await Promise.all(
    (inline.PolicyNames ?? []).map(async (policy) => {
      const out = await iam.send(new GetGroupPolicyCommand({ GroupName: group, PolicyName: policy }));
      return { id: policy, type: 'group' as const, document: policyText(out.PolicyDocument) };
    }),
  );
  return [...own, ...(await managed(iam, attached.AttachedPolicies ?? []))];
}

async function managed(iam: IAMClient, attached: Array<{ PolicyArn?: string; PolicyName?: string }>): Promise<PolicySource[]> {
  return Promise.all(attached.map(({ PolicyArn, PolicyName }) => managedPolicy(iam, PolicyArn ?? '', PolicyName ?? PolicyArn ?? '')));
}

async function managedPolicy(iam: IAMClient, arn: string, name: string): Promise<PolicySource> {
  const policy = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
  const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: policy.Policy?.DefaultVersionId }));
  return {
    id: name,
    type: arn.includes(':aws:policy/') ? 'aws-managed' : 'user-managed',
    document: policyText(version.PolicyVersion?.Document),
  };
}

async function notFoundAs<T>(kind: string, name: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if ((err as Error).name === 'NoSuchEntityException' || (err as Error).name === 'NoSuchEntity') throw new NoSuchEntityError(kind, name);
    throw err;
  }
}
