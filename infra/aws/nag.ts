import { Validations, type App } from 'aws-cdk-lib';
import cdkNag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { CATALOGUE, type PolicyDocument, type PolicyScope } from '../../lib/aws/catalogue';

// cdk-nag's AwsSolutions rules as a CDK validation plugin: synthesis fails on any finding that is not
// acknowledged with a reason. Each acknowledgement names one finding (`AwsSolutions-IAM5[Resource::…]`).

export interface Acknowledgement {
  id: string;
  reason: string;
}

export function checkWithCdkNag(app: App): void {
  // cdk-nag is CommonJS whose exports Node's ESM loader cannot list by name.
  Validations.of(app).addPlugins(new cdkNag.AwsSolutionsChecks(app, { verbose: true }));
}

export function acknowledge(construct: IConstruct, acknowledgements: Acknowledgement[]): void {
  for (const a of acknowledgements) Validations.of(construct).acknowledge(a);
}

/** The scope cdk-nag prints for a stack's own partition and account, so generated ARNs match its findings. */
export const NAG_SCOPE: PolicyScope = { partition: '<AWS::Partition>', accountId: '<AWS::AccountId>' };

/**
 * AwsSolutions-IAM5 flags every wildcard resource; the catalogue says why each of its wildcards is
 * there. One acknowledgement per wildcard resource of a policy generated with NAG_SCOPE.
 */
export function wildcardAcknowledgements(policy: PolicyDocument): Acknowledgement[] {
  return policy.Statement.flatMap((statement) => {
    const entry = CATALOGUE.find((s) => s.sid === statement.Sid.replace(/\d+$/, ''));
    return statement.Resource.filter((r) => r.includes('*')).map((r) => {
      if (!entry?.wildcard) throw new Error(`${statement.Sid} has a wildcard resource and the catalogue gives no reason for it`);
      return { id: `AwsSolutions-IAM5[Resource::${r}]`, reason: `${statement.Sid}: ${entry.wildcard}` };
    });
  });
}
