import 'server-only';
import { GetInstanceProfileCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import type { AwsEnvironmentConfig } from '@/lib/config/schema';
import { awsClients, sendOptions, type CallOptions } from './clients';

// What the backends' instance role may do, asked of IAM itself: the role behind an instance profile,
// and a policy simulation of several actions on several resources in one call.

/** The role ARN of an instance profile (given by its ARN), or null when the profile has no role. */
export async function instanceProfileRole(env: AwsEnvironmentConfig, profileArn: string, opts: CallOptions = {}): Promise<string | null> {
  const name = profileArn.split('/').pop()!;
  const out = await awsClients(env).iam.send(new GetInstanceProfileCommand({ InstanceProfileName: name }), sendOptions(opts));
  return out.InstanceProfile?.Roles?.[0]?.Arn ?? null;
}

export interface SimulatedDecision {
  action: string;
  resource: string;
  /** "allowed", "explicitDeny" or "implicitDeny". */
  decision: string;
}

/**
 * IAM's decision for each action on its resource, all in one SimulatePrincipalPolicy call (IAM
 * answers every action × resource pair; only the pairs asked for are returned).
 */
export async function simulatePrincipalPolicy(
  env: AwsEnvironmentConfig,
  principalArn: string,
  checks: Array<{ action: string; resource: string }>,
  opts: CallOptions = {},
): Promise<SimulatedDecision[]> {
  const out = await awsClients(env).iam.send(
    new SimulatePrincipalPolicyCommand({
      PolicySourceArn: principalArn,
      ActionNames: [...new Set(checks.map((c) => c.action))],
      ResourceArns: [...new Set(checks.map((c) => c.resource))],
    }),
    sendOptions(opts),
  );
  const results = out.EvaluationResults ?? [];
  return checks.map(({ action, resource }) => {
    const match =
      results.find((r) => r.EvalActionName === action && r.EvalResourceName === resource) ?? results.find((r) => r.EvalActionName === action);
    if (!match?.EvalDecision) throw new Error(`SimulatePrincipalPolicy gave no decision for ${action} on ${resource}`);
    return { action, resource, decision: match.EvalDecision };
  });
}
