import { Aws, CfnDeletionPolicy, CfnOutput, CfnParameter, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { consoleIdentityPolicy } from '../../lib/aws/catalogue';
import type { ConsoleConfig } from '../../lib/config/schema';
import { acknowledge, NAG_SCOPE, wildcardAcknowledgements } from './nag';

// The console in LinkBox's own VPC: two Fargate tasks in the private subnets behind an HTTPS load
// balancer, its own small encrypted PostgreSQL for the audit log, locks and rotation state, its
// secrets in Secrets Manager, its logs in CloudWatch, and a task role holding exactly the policy the
// catalogue of calls generates for the config (lib/aws/catalogue.ts). Everything LinkBox already has
// (VPC, subnets, its security groups) comes in as a parameter; nothing is looked up at synth time.
// L1 resources where a construct would need the VPC's subnets at synth time.

/** Where the console listens in its container (the image's PORT). */
const CONTAINER_PORT = 3000;
/** Not PostgreSQL's default: cdk-nag's RDS11; only the console's security group reaches it anyway. */
const STORE_PORT = 5433;
const STORE_DATABASE = 'console';
const STORE_USER = 'console';
/** In the image (Dockerfile): the store's TLS is verified against it. */
const RDS_CA_BUNDLE = '/etc/ssl/certs/rds-global-bundle.pem';

export interface ConsoleStackProps extends StackProps {
  /** The console's environments file, validated (mode "aws"): the task's LINKBOX_CONFIG_JSON and the source of its IAM policy. */
  config: ConsoleConfig;
  /** The same file as text, as the task receives it. */
  configText: string;
}

export class ConsoleStack extends Stack {
  readonly taskRole: iam.Role;

  constructor(scope: Construct, id: string, props: ConsoleStackProps) {
    super(scope, id, props);
    this.templateOptions.description = 'LinkBox Ops Console: ECS Fargate behind an HTTPS load balancer, its store, secrets and least-privilege task role';

    // ---- What LinkBox and the operator bring ----
    const p = {
      imageUri: new CfnParameter(this, 'ImageUri', { description: 'The console image, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/linkbox-ops-console:1.4.0' }),
      vpcId: new CfnParameter(this, 'VpcId', { type: 'AWS::EC2::VPC::Id', description: "LinkBox's VPC" }),
      privateSubnetIds: new CfnParameter(this, 'PrivateSubnetIds', { type: 'List<AWS::EC2::Subnet::Id>', description: 'Private subnets (two zones) for the tasks and the store' }),
      loadBalancerSubnetIds: new CfnParameter(this, 'LoadBalancerSubnetIds', { type: 'List<AWS::EC2::Subnet::Id>', description: "The load balancer's subnets (two zones): private ones for an internal console" }),
      loadBalancerScheme: new CfnParameter(this, 'LoadBalancerScheme', { allowedValues: ['internal', 'internet-facing'], default: 'internal', description: 'internal (through the VPN) or internet-facing' }),
      clientCidr: new CfnParameter(this, 'ClientCidr', {
        default: '10.0.0.0/8',
        allowedPattern: '^\\d{1,3}(\\.\\d{1,3}){3}/\\d{1,2}$',
        description: "Who may reach the load balancer: the operators' network (VPN), never 0.0.0.0/0 for an internal console",
      }),
      certificateArn: new CfnParameter(this, 'CertificateArn', { description: "ACM certificate for the console's host name" }),
      consoleUrl: new CfnParameter(this, 'ConsoleUrl', { allowedPattern: '^https://[^/]+$', description: 'The console as operators reach it, e.g. https://ops.linkbox.example (NEXTAUTH_URL)' }),
      dbSecurityGroupId: new CfnParameter(this, 'LinkboxDbSecurityGroupId', { type: 'AWS::EC2::SecurityGroup::Id', description: "LinkBox RDS's security group: it admits the console on the DB port" }),
      dbPort: new CfnParameter(this, 'LinkboxDbPort', { type: 'Number', default: 5432, minValue: 1, maxValue: 65535, description: "LinkBox RDS's port" }),
      backendSecurityGroupId: new CfnParameter(this, 'LinkboxBackendSecurityGroupId', { type: 'AWS::EC2::SecurityGroup::Id', description: "The backends' security group: it admits the console on the health port" }),
      healthPort: new CfnParameter(this, 'BackendHealthPort', { type: 'Number', default: 80, minValue: 1, maxValue: 65535, description: "The backends' /health port" }),
      oidcIssuer: new CfnParameter(this, 'OidcIssuer', { allowedPattern: '^https://.+', description: "The identity provider's issuer URL" }),
      oidcClientId: new CfnParameter(this, 'OidcClientId', { description: "The console's client id at the identity provider" }),
      oidcClientSecretArn: new CfnParameter(this, 'OidcClientSecretArn', { noEcho: true, allowedPattern: '^arn:aws[a-z-]*:secretsmanager:.+', description: "Secrets Manager secret (plain text) holding the console's client secret" }),
      desiredCount: new CfnParameter(this, 'DesiredCount', { type: 'Number', default: 2, minValue: 1, maxValue: 10, description: 'Console replicas (tasks)' }),
    };
    const privateSubnets = p.privateSubnetIds.valueAsList;

    // ---- Security groups: nothing reaches the console but the load balancer ----
    const group = (id: string, description: string) =>
      new ec2.CfnSecurityGroup(this, id, {
        groupDescription: description,
        vpcId: p.vpcId.valueAsString,
        // No default allow-all egress: each egress rule below is its own resource, with its reason.
        securityGroupEgress: [{ ipProtocol: 'icmp', fromPort: 252, toPort: 86, cidrIp: '255.255.255.255/32', description: 'Disallow all traffic' }],
      });
    const albGroup = group('LoadBalancerSecurityGroup', 'LinkBox Ops Console load balancer');
    const consoleGroup = group('ConsoleSecurityGroup', 'LinkBox Ops Console tasks');
    const storeGroup = group('StoreSecurityGroup', 'LinkBox Ops Console store (PostgreSQL)');
    const tcp = (port: number | string) => ({ ipProtocol: 'tcp', fromPort: port as number, toPort: port as number });

    const clients = [
      new ec2.CfnSecurityGroupIngress(this, 'ClientsToLoadBalancerHttps', { groupId: albGroup.attrGroupId, ...tcp(443), cidrIp: p.clientCidr.valueAsString, description: 'Operators: HTTPS' }),
      new ec2.CfnSecurityGroupIngress(this, 'ClientsToLoadBalancerHttp', { groupId: albGroup.attrGroupId, ...tcp(80), cidrIp: p.clientCidr.valueAsString, description: 'Operators: HTTP, redirected to HTTPS' }),
    ];
    for (const rule of clients) acknowledge(rule, [{ id: 'AwsSolutions-EC23', reason: "ClientCidr is the operators' network, chosen at deploy time (10.0.0.0/8 by default); cdk-nag cannot read a parameter" }]);
    new ec2.CfnSecurityGroupEgress(this, 'LoadBalancerToConsole', { groupId: albGroup.attrGroupId, ...tcp(CONTAINER_PORT), destinationSecurityGroupId: consoleGroup.attrGroupId, description: 'To the console tasks' });
    new ec2.CfnSecurityGroupIngress(this, 'ConsoleFromLoadBalancer', { groupId: consoleGroup.attrGroupId, ...tcp(CONTAINER_PORT), sourceSecurityGroupId: albGroup.attrGroupId, description: 'From the load balancer only' });
    new ec2.CfnSecurityGroupEgress(this, 'ConsoleToStore', { groupId: consoleGroup.attrGroupId, ...tcp(STORE_PORT), destinationSecurityGroupId: storeGroup.attrGroupId, description: "The console's store" });
    new ec2.CfnSecurityGroupIngress(this, 'StoreFromConsole', { groupId: storeGroup.attrGroupId, ...tcp(STORE_PORT), sourceSecurityGroupId: consoleGroup.attrGroupId, description: 'The console tasks' });
    const dbPort = p.dbPort.valueAsNumber;
    new ec2.CfnSecurityGroupEgress(this, 'ConsoleToLinkboxDb', { groupId: consoleGroup.attrGroupId, ...tcp(dbPort), destinationSecurityGroupId: p.dbSecurityGroupId.valueAsString, description: 'LinkBox RDS: the login check and the rotation test login' });
    new ec2.CfnSecurityGroupIngress(this, 'LinkboxDbFromConsole', { groupId: p.dbSecurityGroupId.valueAsString, ...tcp(dbPort), sourceSecurityGroupId: consoleGroup.attrGroupId, description: 'LinkBox Ops Console' });
    const healthPort = p.healthPort.valueAsNumber;
    new ec2.CfnSecurityGroupEgress(this, 'ConsoleToBackendHealth', { groupId: consoleGroup.attrGroupId, ...tcp(healthPort), destinationSecurityGroupId: p.backendSecurityGroupId.valueAsString, description: "The backends' /health" });
    new ec2.CfnSecurityGroupIngress(this, 'BackendHealthFromConsole', { groupId: p.backendSecurityGroupId.valueAsString, ...tcp(healthPort), sourceSecurityGroupId: consoleGroup.attrGroupId, description: 'LinkBox Ops Console: /health' });
    new ec2.CfnSecurityGroupEgress(this, 'ConsoleToHttps', {
      groupId: consoleGroup.attrGroupId,
      ...tcp(443),
      cidrIp: '0.0.0.0/0',
      description: 'AWS APIs (VPC endpoints or NAT), the identity provider, notification webhooks: HTTPS only',
    });

    // ---- Secrets ----
    const storeCredentials = new secretsmanager.Secret(this, 'StoreCredentials', {
      description: "LinkBox Ops Console store: the master user's password",
      generateSecretString: { secretStringTemplate: JSON.stringify({ username: STORE_USER }), generateStringKey: 'password', excludePunctuation: true, passwordLength: 32 },
    });
    const authSecret = new secretsmanager.Secret(this, 'NextAuthSecret', {
      description: 'LinkBox Ops Console: NEXTAUTH_SECRET, which signs and encrypts the session cookies',
      generateSecretString: { excludePunctuation: true, passwordLength: 48 },
    });
    acknowledge(authSecret, [{ id: 'AwsSolutions-SMG4', reason: 'rotating NEXTAUTH_SECRET signs every operator out: rotated by hand (README "Deploy to AWS")' }]);
    const oidcClientSecret = secretsmanager.Secret.fromSecretCompleteArn(this, 'OidcClientSecret', p.oidcClientSecretArn.valueAsString);

    // ---- The console's store: PostgreSQL, encrypted, private, backed up ----
    const storeSubnets = new rds.CfnDBSubnetGroup(this, 'StoreSubnets', { dbSubnetGroupDescription: 'LinkBox Ops Console store', subnetIds: privateSubnets });
    const store = new rds.CfnDBInstance(this, 'Store', {
      engine: 'postgres',
      engineVersion: '17.4',
      dbInstanceClass: 'db.t4g.micro',
      allocatedStorage: '20',
      storageType: 'gp3',
      storageEncrypted: true,
      dbName: STORE_DATABASE,
      masterUsername: STORE_USER,
      masterUserPassword: storeCredentials.secretValueFromJson('password').unsafeUnwrap(),
      dbSubnetGroupName: storeSubnets.ref,
      vpcSecurityGroups: [storeGroup.attrGroupId],
      port: String(STORE_PORT),
      publiclyAccessible: false,
      multiAz: false,
      backupRetentionPeriod: 7,
      deletionProtection: true,
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
      enableIamDatabaseAuthentication: true,
      enableCloudwatchLogsExports: ['postgresql'],
    });
    store.cfnOptions.deletionPolicy = store.cfnOptions.updateReplacePolicy = CfnDeletionPolicy.SNAPSHOT;
    acknowledge(store, [
      {
        id: 'CloudFormation-Validate::E3062',
        reason: "cfn-lint (CI) accepts db.t4g.micro for PostgreSQL 17.4; the validator inside aws-cdk-lib has older instance-class data",
      },
      {
        id: 'AwsSolutions-RDS3',
        reason: 'the audit log, locks and rotation state: an outage of its zone pauses rotations, never loses a password (SSM holds both slots); backups restore it',
      },
    ]);
    // The URL the console reads as AUDIT_DATABASE_URL: its parts resolved by CloudFormation, never in the template.
    const storeUrl = new secretsmanager.CfnSecret(this, 'StoreUrl', {
      description: 'LinkBox Ops Console: AUDIT_DATABASE_URL (TLS verified against the RDS CA bundle in the image)',
      secretString: Fn.join('', [
        `postgresql://${STORE_USER}:`,
        storeCredentials.secretValueFromJson('password').unsafeUnwrap(),
        '@',
        store.attrEndpointAddress,
        ':',
        store.attrEndpointPort,
        `/${STORE_DATABASE}?sslmode=verify-full&sslrootcert=${RDS_CA_BUNDLE}`,
      ]),
    });

    const byHand = 'the store password is also inside StoreUrl, built at deploy time: automatic rotation would leave that copy behind, so both are rotated by hand (README)';
    acknowledge(storeCredentials, [{ id: 'AwsSolutions-SMG4', reason: byHand }]);
    acknowledge(storeUrl, [{ id: 'AwsSolutions-SMG4', reason: byHand }]);

    // ---- Logs ----
    const logGroup = new logs.CfnLogGroup(this, 'Logs', { logGroupName: '/linkbox/ops-console', retentionInDays: 90 });

    // ---- Roles: the execution role starts the task, the task role is the console ----
    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` }, StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
    });
    const secretArns = [storeUrl.ref, authSecret.secretArn, oidcClientSecret.secretArn];
    const executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: ecsTasks,
      description: 'LinkBox Ops Console: pulls the image, writes the logs, reads the three secrets into the task',
      inlinePolicies: {
        start: new iam.PolicyDocument({
          statements: [
            new iam.PolicyStatement({ sid: 'PullImageToken', actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }),
            new iam.PolicyStatement({
              sid: 'PullImage',
              actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
              resources: [`arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${Aws.ACCOUNT_ID}:repository/*`],
            }),
            new iam.PolicyStatement({ sid: 'WriteLogs', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.attrArn] }),
            new iam.PolicyStatement({ sid: 'ReadSecrets', actions: ['secretsmanager:GetSecretValue'], resources: secretArns }),
          ],
        }),
      },
    });
    acknowledge(executionRole, [
      { id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken has no resource-level permissions' },
      {
        id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/*]',
        reason: "the image URI is a deploy-time parameter, so its repository is not known at synth; pulling is read-only and limited to this account's region",
      },
    ]);

    // The console's own identity: exactly the catalogue's policy for this config.
    const policy = consoleIdentityPolicy(props.config, { partition: Aws.PARTITION, accountId: Aws.ACCOUNT_ID });
    this.taskRole = new iam.Role(this, 'TaskRole', {
      assumedBy: ecsTasks,
      description: 'LinkBox Ops Console: the AWS calls it makes (lib/aws/catalogue.ts), on the resources it makes them on',
      inlinePolicies: { 'linkbox-ops-console': iam.PolicyDocument.fromJson(policy) },
    });
    acknowledge(this.taskRole, wildcardAcknowledgements(consoleIdentityPolicy(props.config, NAG_SCOPE)));

    // ---- ECS ----
    const cluster = new ecs.CfnCluster(this, 'Cluster', { clusterSettings: [{ name: 'containerInsights', value: 'enabled' }] });
    const taskDefinition = new ecs.CfnTaskDefinition(this, 'Task', {
      family: 'linkbox-ops-console',
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '512',
      memory: '1024',
      runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
      executionRoleArn: executionRole.roleArn,
      taskRoleArn: this.taskRole.roleArn,
      // Fargate task storage for the only paths the read-only root filesystem lets the app write.
      volumes: [{ name: 'tmp' }],
      containerDefinitions: [
        {
          name: 'console',
          image: p.imageUri.valueAsString,
          essential: true,
          readonlyRootFilesystem: true,
          user: 'node',
          portMappings: [{ containerPort: CONTAINER_PORT, protocol: 'tcp' }],
          mountPoints: [{ sourceVolume: 'tmp', containerPath: '/tmp', readOnly: false }],
          environment: [
            { name: 'LINKBOX_CONFIG_JSON', value: props.configText },
            { name: 'NEXTAUTH_URL', value: p.consoleUrl.valueAsString },
            { name: 'OIDC_ISSUER', value: p.oidcIssuer.valueAsString },
            { name: 'OIDC_CLIENT_ID', value: p.oidcClientId.valueAsString },
          ],
          secrets: [
            { name: 'AUDIT_DATABASE_URL', valueFrom: storeUrl.ref },
            { name: 'NEXTAUTH_SECRET', valueFrom: authSecret.secretArn },
            { name: 'OIDC_CLIENT_SECRET', valueFrom: oidcClientSecret.secretArn },
          ],
          healthCheck: {
            command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${CONTAINER_PORT}/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`],
            interval: 15,
            timeout: 5,
            retries: 3,
            startPeriod: 30,
          },
          logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup.ref, 'awslogs-region': Aws.REGION, 'awslogs-stream-prefix': 'console' } },
        },
      ],
    });
    acknowledge(taskDefinition, [
      { id: 'AwsSolutions-ECS2', reason: 'the environment holds no secret: the environments file, the public URL and the IdP client id; the three secrets come through ECS secrets' },
    ]);

    // ---- The load balancer: HTTPS, HTTP redirected, health on /api/health ----
    const loadBalancer = new elbv2.CfnLoadBalancer(this, 'LoadBalancer', {
      type: 'application',
      scheme: p.loadBalancerScheme.valueAsString,
      subnets: p.loadBalancerSubnetIds.valueAsList,
      securityGroups: [albGroup.attrGroupId],
      loadBalancerAttributes: [
        { key: 'routing.http.drop_invalid_header_fields.enabled', value: 'true' },
        { key: 'deletion_protection.enabled', value: 'true' },
      ],
    });
    acknowledge(loadBalancer, [
      { id: 'AwsSolutions-ELB2', reason: 'who did what is in the console\'s own audit log and its CloudWatch logs; ALB access logs would need a log bucket per region for no more' },
    ]);
    const targets = new elbv2.CfnTargetGroup(this, 'Targets', {
      targetType: 'ip',
      protocol: 'HTTP',
      port: CONTAINER_PORT,
      vpcId: p.vpcId.valueAsString,
      healthCheckPath: '/api/health',
      healthCheckIntervalSeconds: 15,
      healthyThresholdCount: 2,
      unhealthyThresholdCount: 3,
      matcher: { httpCode: '200' },
      targetGroupAttributes: [{ key: 'deregistration_delay.timeout_seconds', value: '30' }],
    });
    const https = new elbv2.CfnListener(this, 'Https', {
      loadBalancerArn: loadBalancer.ref,
      port: 443,
      protocol: 'HTTPS',
      sslPolicy: 'ELBSecurityPolicy-TLS13-1-2-2021-06',
      certificates: [{ certificateArn: p.certificateArn.valueAsString }],
      defaultActions: [{ type: 'forward', targetGroupArn: targets.ref }],
    });
    new elbv2.CfnListener(this, 'HttpRedirect', {
      loadBalancerArn: loadBalancer.ref,
      port: 80,
      protocol: 'HTTP',
      defaultActions: [{ type: 'redirect', redirectConfig: { protocol: 'HTTPS', port: '443', statusCode: 'HTTP_301' } }],
    });

    const service = new ecs.CfnService(this, 'Service', {
      cluster: cluster.ref,
      taskDefinition: taskDefinition.ref,
      launchType: 'FARGATE',
      desiredCount: p.desiredCount.valueAsNumber,
      networkConfiguration: { awsvpcConfiguration: { subnets: privateSubnets, securityGroups: [consoleGroup.attrGroupId], assignPublicIp: 'DISABLED' } },
      loadBalancers: [{ containerName: 'console', containerPort: CONTAINER_PORT, targetGroupArn: targets.ref }],
      healthCheckGracePeriodSeconds: 60,
      // One replica at a time: the other keeps serving, and a rotation in flight is resumed by it.
      deploymentConfiguration: { minimumHealthyPercent: 50, maximumPercent: 200, deploymentCircuitBreaker: { enable: true, rollback: true } },
      propagateTags: 'SERVICE',
      enableExecuteCommand: false,
    });
    service.addResourceDependency(https);

    new CfnOutput(this, 'LoadBalancerDnsName', { value: loadBalancer.attrDnsName, description: "Point the console's host name here (CNAME or alias)" });
    new CfnOutput(this, 'TaskRoleArn', { value: this.taskRole.roleArn, description: 'ConsoleTaskRoleArn for the access stacks in other accounts' });
    new CfnOutput(this, 'ConsoleSecurityGroupId', { value: consoleGroup.attrGroupId });
    new CfnOutput(this, 'StoreEndpoint', { value: store.attrEndpointAddress });
  }
}
