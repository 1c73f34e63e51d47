import { Aws, CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { environmentPolicy } from '../../lib/aws/catalogue';
import type { AwsEnvironmentConfig } from '../../lib/config/schema';
import { acknowledge, NAG_SCOPE, wildcardAcknowledgements } from './nag';

// For an environment in another account: the role the console assumes there (the config's
// `credentials.roleArn`), trusting only the console's task role and only with the config's external
// id, with the same least-privilege policy the catalogue generates for those environments.

export interface AccessStackProps extends StackProps {
  /** The role as the config names it: `arn:aws:iam::<account>:role/<path/><name>`. */
  roleArn: string;
  externalId: string;
  environments: AwsEnvironmentConfig[];
}

export class AccessStack extends Stack {
  constructor(scope: Construct, id: string, props: AccessStackProps) {
    super(scope, id, props);
    this.templateOptions.description = `LinkBox Ops Console: the role it assumes for ${props.environments.map((e) => e.name).join(', ')}`;
    const consoleTaskRoleArn = new CfnParameter(this, 'ConsoleTaskRoleArn', {
      allowedPattern: '^arn:aws[a-z-]*:iam::\\d{12}:(role/.+|root)$',
      description: "The console's task role (the LinkboxOpsConsole stack's TaskRoleArn output)",
    });
    const [, path, name] = /^arn:aws[a-z-]*:iam::\d{12}:role(\/(?:.*\/)?)([^/]+)$/.exec(props.roleArn) ?? [];
    if (!name) throw new Error(`${props.roleArn} is not a role ARN`);

    const role = new iam.Role(this, 'ConsoleAccessRole', {
      roleName: name,
      path,
      assumedBy: new iam.ArnPrincipal(consoleTaskRoleArn.valueAsString).withConditions({ StringEquals: { 'sts:ExternalId': props.externalId } }),
      description: 'LinkBox Ops Console: the AWS calls it makes (lib/aws/catalogue.ts), on the resources it makes them on',
      inlinePolicies: { 'linkbox-ops-console': iam.PolicyDocument.fromJson(environmentPolicy(props.environments, { partition: Aws.PARTITION, accountId: Aws.ACCOUNT_ID })) },
    });
    acknowledge(role, wildcardAcknowledgements(environmentPolicy(props.environments, NAG_SCOPE)));
    new CfnOutput(this, 'RoleArn', { value: role.roleArn });
  }
}
