import {
  AuthorizeSecurityGroupIngressCommand,
  CreateNetworkAclCommand,
  CreateNetworkAclEntryCommand,
  CreateNetworkInterfaceCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeImagesCommand,
  DescribeNetworkAclsCommand,
  EC2Client,
  ReplaceNetworkAclAssociationCommand,
  RunInstancesCommand,
  type RuleAction,
} from '@aws-sdk/client-ec2';
import { AddRoleToInstanceProfileCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateDBInstanceCommand, CreateDBSubnetGroupCommand, RDSClient } from '@aws-sdk/client-rds';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { LabRdsState } from './contract';
import { RDS_INTERFACE_DESCRIPTION } from './network/db-network';
import { MASTER_DATABASE, MASTER_USERNAME } from './postgres';

// The LinkBox world as CloudFormation would build it (infrastructure/02-database.yml and
// 03-backend.yml), created through the AWS APIs so moto holds exactly what the console will read.

export const PARAMETER_PREFIX = '/linkbox';
export const RDS_INSTANCE_ID = 'linkbox-db';
export const DB_PORT = 5432;
/** How many environments one lab seeds at most (LAB_ENVIRONMENTS). */
export const MAX_ENVIRONMENTS = 25;
export const BACKEND_SG_NAME = 'linkbox-backend-sg';
export const DB_SG_NAME = 'linkbox-db-sg';
/** The ops console's own group, as its deployment inside the VPC would create it; the DB group admits it. */
export const CONSOLE_SG_NAME = 'linkbox-ops-console-sg';
export const BACKEND_NAME = 'linkbox-backend';
export const BACKEND_ROLE = 'linkbox-backend-role';
export const BACKEND_PROFILE = 'linkbox-backend-profile';
export const VPC_CIDR = '10.0.0.0/16';
export const DB_SUBNET_GROUP = 'linkbox-db-subnets';
export const APP_NACL_NAME = 'linkbox-app-nacl';
export const DB_NACL_NAME = 'linkbox-db-nacl';
/**
 * The VPC as a two-tier CloudFormation template lays it out: the backends in private app subnets,
 * RDS in DB subnets (its subnet group), one zone each. Subnet order is instance order: the first
 * backend (the tunnel's carrier) lives in 10.0.1.0/24, and the DB in the first zone's DB subnet.
 */
const APP_SUBNETS = [
  { name: 'linkbox-app-a', cidr: '10.0.1.0/24', zone: 'a' },
  { name: 'linkbox-app-b', cidr: '10.0.2.0/24', zone: 'b' },
];
const DB_SUBNETS = [
  { name: 'linkbox-db-a', cidr: '10.0.11.0/24', zone: 'a' },
  { name: 'linkbox-db-b', cidr: '10.0.12.0/24', zone: 'b' },
];
/** Each DB's address in its subnet (RDS picks one; the lab fixes them so tests can write rules for them). */
const dbPrivateIp = (index: number) => `10.0.11.${25 + index}`;
/** Linux's ephemeral source ports are 32768-60999; the usual NACL rules allow 1024-65535 back. */
const EPHEMERAL = { From: 1024, To: 65535 };

type AclRule = { rule: number; egress: boolean; action: RuleAction; cidr: string; ports?: { From: number; To: number }; protocol?: string };

/**
 * The custom network ACLs. NACLs are stateless, so every request rule has its reply rule. The app
 * subnets also talk HTTPS out (SSM, ECR through the NAT: replies come from anywhere) and answer the
 * load balancer's health checks on :80 from inside the VPC. The `*` rule (32767, deny all) ends
 * every custom ACL in AWS; moto does not list it, the lab's network applies it all the same.
 */
const APP_ACL_RULES: AclRule[] = [
  ...DB_SUBNETS.map((s, i) => ({ rule: 100 + i, egress: true, action: 'allow' as const, cidr: s.cidr, ports: { From: DB_PORT, To: DB_PORT } })),
  ...DB_SUBNETS.map((s, i) => ({ rule: 100 + i, egress: false, action: 'allow' as const, cidr: s.cidr, ports: EPHEMERAL })),
  { rule: 200, egress: true, action: 'allow', cidr: '0.0.0.0/0', ports: { From: 443, To: 443 } },
  { rule: 200, egress: false, action: 'allow', cidr: '0.0.0.0/0', ports: EPHEMERAL },
  { rule: 300, egress: false, action: 'allow', cidr: VPC_CIDR, ports: { From: 80, To: 80 } },
  { rule: 300, egress: true, action: 'allow', cidr: VPC_CIDR, ports: EPHEMERAL },
];
const DB_ACL_RULES: AclRule[] = [
  ...APP_SUBNETS.map((s, i) => ({ rule: 100 + i, egress: false, action: 'allow' as const, cidr: s.cidr, ports: { From: DB_PORT, To: DB_PORT } })),
  ...APP_SUBNETS.map((s, i) => ({ rule: 100 + i, egress: true, action: 'allow' as const, cidr: s.cidr, ports: EPHEMERAL })),
];

/** The seed's own caller, so its calls are easy to tell apart (they are zeroed after seeding anyway). */
export const SEED_CREDENTIALS = { accessKeyId: 'LABSEED', secretAccessKey: 'lab-not-a-secret' };

export interface SeededSubnet {
  id: string;
  name: string;
  cidr: string;
  availabilityZone: string;
}

/**
 * One LinkBox environment in the lab's account and region. The first is the original `production`
 * (`/linkbox`, `linkbox-db`, two backends); the others are its siblings `production-2`, ...: their own
 * parameters, RDS instance (master user and database of their own) and one backend, sharing the VPC,
 * its subnets, network ACLs and security groups, and the backends' instance profile.
 */
export interface LinkBoxEnvironment {
  name: string;
  parameterPrefix: string;
  rdsInstanceId: string;
  masterUsername: string;
  dbName: string;
  /** The Name tag of its backend instances: a tag selector picks exactly this environment's. */
  backendName: string;
  backendCount: number;
}

export function linkBoxEnvironments(count: number): LinkBoxEnvironment[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_ENVIRONMENTS) throw new Error(`the lab seeds 1 to ${MAX_ENVIRONMENTS} environments, not ${count}`);
  return Array.from({ length: count }, (_, i) => {
    if (i === 0) {
      return { name: 'production', parameterPrefix: PARAMETER_PREFIX, rdsInstanceId: RDS_INSTANCE_ID, masterUsername: MASTER_USERNAME, dbName: MASTER_DATABASE, backendName: BACKEND_NAME, backendCount: APP_SUBNETS.length };
    }
    const n = i + 1;
    // RDS master user names and PostgreSQL database names take letters, digits and "_", not "-".
    return { name: `production-${n}`, parameterPrefix: `${PARAMETER_PREFIX}-${n}`, rdsInstanceId: `${RDS_INSTANCE_ID}-${n}`, masterUsername: `${MASTER_USERNAME}_${n}`, dbName: `${MASTER_DATABASE}_${n}`, backendName: `${BACKEND_NAME}-${n}`, backendCount: 1 };
  });
}

export interface SeededEnvironment {
  environment: LinkBoxEnvironment;
  instances: Array<{ id: string; name: string; privateIp: string; subnetId: string }>;
  /** What the lab state reports (less the TLS name, issued after seeding), and RDS's network interface. */
  rds: Omit<LabRdsState, 'dnsName'> & { networkInterfaceId: string };
}

export interface SeededWorld {
  accountId: string;
  vpc: {
    id: string;
    cidr: string;
    appSubnets: SeededSubnet[];
    dbSubnets: SeededSubnet[];
    /** The VPC's default ACL (allows everything), the custom ones of the app and DB subnets. */
    defaultNetworkAclId: string;
    appNetworkAclId: string;
    dbNetworkAclId: string;
    backendSecurityGroupId: string;
    dbSecurityGroupId: string;
    /** The ops console's own group (as its stack creates it), admitted by the DB group on the DB port. */
    consoleSecurityGroupId: string;
  };
  /** In the order asked for; the first is `production`. */
  environments: SeededEnvironment[];
}

export async function seedLinkBox(options: { endpoint: string; region: string; environments: Array<LinkBoxEnvironment & { masterPassword: string }> }): Promise<SeededWorld> {
  const common = { region: options.region, endpoint: options.endpoint, credentials: SEED_CREDENTIALS, maxAttempts: 5 };
  const ec2 = new EC2Client(common);
  const rds = new RDSClient(common);
  const iam = new IAMClient(common);
  const ssm = new SSMClient(common);
  const sts = new STSClient(common);
  try {
    const nameTag = (resource: 'vpc' | 'subnet' | 'security-group' | 'instance' | 'network-acl', name: string) => [
      { ResourceType: resource, Tags: [{ Key: 'Name', Value: name }, { Key: 'Project', Value: 'linkbox' }] },
    ];
    const prefixes = options.environments.map((e) => e.parameterPrefix);
    const parameterArn = (prefix: string) => `arn:aws:ssm:${options.region}:${accountId}:parameter${prefix}/*`;
    // Independent resources are created side by side: start-up time is mostly this seed.
    const createRoleAndProfile = async () => {
      await iam.send(
        new CreateRoleCommand({
          RoleName: BACKEND_ROLE,
          AssumeRolePolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
          }),
        }),
      );
      await Promise.all([
        iam.send(
          new PutRolePolicyCommand({
            RoleName: BACKEND_ROLE,
            PolicyName: 'linkbox-ssm-parameters',
            PolicyDocument: JSON.stringify({
              Version: '2012-10-17',
              Statement: [
                // One instance profile for every environment's backends: each reads its own prefix.
                {
                  Effect: 'Allow',
                  Action: ['ssm:GetParameter', 'ssm:GetParameters'],
                  Resource: prefixes.length === 1 ? parameterArn(prefixes[0]!) : prefixes.map(parameterArn),
                },
                { Effect: 'Allow', Action: ['kms:Decrypt'], Resource: '*' },
              ],
            }),
          }),
        ),
        (async () => {
          await iam.send(new CreateInstanceProfileCommand({ InstanceProfileName: BACKEND_PROFILE }));
          await iam.send(new AddRoleToInstanceProfileCommand({ InstanceProfileName: BACKEND_PROFILE, RoleName: BACKEND_ROLE }));
        })(),
      ]);
    };

    const { Account: accountId } = await sts.send(new GetCallerIdentityCommand({}));
    const [{ Vpc }, { Images }] = await Promise.all([
      ec2.send(new CreateVpcCommand({ CidrBlock: VPC_CIDR, TagSpecifications: nameTag('vpc', 'linkbox-vpc') })),
      ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] })),
    ]);
    const vpcId = Vpc!.VpcId!;
    const imageId = Images?.find((i) => i.ImageId)?.ImageId ?? 'ami-12c6146b';
    const roleReady = createRoleAndProfile();

    const createSubnets = (layout: typeof APP_SUBNETS) =>
      Promise.all(
        layout.map(async ({ name, cidr, zone }) => {
          const availabilityZone = `${options.region}${zone}`;
          const { Subnet } = await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: availabilityZone, TagSpecifications: nameTag('subnet', name) }));
          return { id: Subnet!.SubnetId!, name, cidr, availabilityZone };
        }),
      );
    const createAcl = async (name: string, rules: AclRule[]) => {
      const { NetworkAcl } = await ec2.send(new CreateNetworkAclCommand({ VpcId: vpcId, TagSpecifications: nameTag('network-acl', name) }));
      const aclId = NetworkAcl!.NetworkAclId!;
      await Promise.all(
        rules.map((r) =>
          ec2.send(
            new CreateNetworkAclEntryCommand({
              NetworkAclId: aclId,
              RuleNumber: r.rule,
              Egress: r.egress,
              RuleAction: r.action,
              Protocol: r.protocol ?? '6',
              CidrBlock: r.cidr,
              PortRange: r.ports,
            }),
          ),
        ),
      );
      return aclId;
    };

    const [appSubnets, dbSubnets, appAclId, dbAclId, backendSg, dbSg, consoleSg] = await Promise.all([
      createSubnets(APP_SUBNETS),
      createSubnets(DB_SUBNETS),
      createAcl(APP_NACL_NAME, APP_ACL_RULES),
      createAcl(DB_NACL_NAME, DB_ACL_RULES),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: BACKEND_SG_NAME, Description: 'LinkBox backend instances', VpcId: vpcId, TagSpecifications: nameTag('security-group', BACKEND_SG_NAME) })),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: DB_SG_NAME, Description: 'LinkBox RDS PostgreSQL', VpcId: vpcId, TagSpecifications: nameTag('security-group', DB_SG_NAME) })),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: CONSOLE_SG_NAME, Description: 'LinkBox ops console', VpcId: vpcId, TagSpecifications: nameTag('security-group', CONSOLE_SG_NAME) })),
    ]);

    // A new subnet starts on the VPC's default ACL; moving it is ReplaceNetworkAclAssociation.
    const { NetworkAcls } = await ec2.send(new DescribeNetworkAclsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
    const defaultAcl = NetworkAcls?.find((acl) => acl.IsDefault);
    if (!defaultAcl?.NetworkAclId) throw new Error('moto created linkbox-vpc without a default network ACL');
    const associationOf = (subnetId: string) => defaultAcl.Associations?.find((a) => a.SubnetId === subnetId)?.NetworkAclAssociationId;
    const dbZone = dbSubnets[0]!;

    await Promise.all([
      (async () => {
        // One at a time: each call rewrites the default ACL's association list in moto.
        for (const [subnet, aclId] of [...appSubnets.map((s) => [s, appAclId] as const), ...dbSubnets.map((s) => [s, dbAclId] as const)]) {
          const associationId = associationOf(subnet.id);
          if (!associationId) throw new Error(`moto did not associate ${subnet.name} with the default network ACL`);
          await ec2.send(new ReplaceNetworkAclAssociationCommand({ AssociationId: associationId, NetworkAclId: aclId }));
        }
      })(),
      rds.send(
        new CreateDBSubnetGroupCommand({
          DBSubnetGroupName: DB_SUBNET_GROUP,
          DBSubnetGroupDescription: 'LinkBox DB subnets',
          SubnetIds: dbSubnets.map((s) => s.id),
        }),
      ),
      (async () => {
        // No Description on the pairs: moto only revokes a described rule when the revoke repeats
        // the description, and operators revoke with --source-group alone. One authorization per
        // source, one after the other, so each is a rule of its own that can be revoked alone.
        for (const source of [backendSg.GroupId, consoleSg.GroupId]) {
          await ec2.send(
            new AuthorizeSecurityGroupIngressCommand({
              GroupId: dbSg.GroupId,
              IpPermissions: [{ IpProtocol: 'tcp', FromPort: DB_PORT, ToPort: DB_PORT, UserIdGroupPairs: [{ GroupId: source }] }],
            }),
          );
        }
      })(),
      roleReady,
    ]);

    // Every environment's database, RDS interface, backends and parameters, all side by side.
    const seedEnvironment = async (environment: LinkBoxEnvironment & { masterPassword: string }, index: number): Promise<SeededEnvironment> => {
      const [created, networkInterface, ...runs] = await Promise.all([
        rds.send(
          new CreateDBInstanceCommand({
            DBInstanceIdentifier: environment.rdsInstanceId,
            Engine: 'postgres',
            EngineVersion: '17.2',
            DBInstanceClass: 'db.t3.micro',
            AllocatedStorage: 20,
            MasterUsername: environment.masterUsername,
            MasterUserPassword: environment.masterPassword,
            DBName: environment.dbName,
            Port: DB_PORT,
            PubliclyAccessible: false,
            VpcSecurityGroupIds: [dbSg.GroupId!],
            DBSubnetGroupName: DB_SUBNET_GROUP,
            AvailabilityZone: dbZone.availabilityZone,
            Tags: [{ Key: 'Name', Value: environment.rdsInstanceId }, { Key: 'Project', Value: 'linkbox' }],
          }),
        ),
        // RDS's own interface in the DB subnet, as AWS shows it (DescribeNetworkInterfaces,
        // description "RDSNetworkInterface"): where the endpoint's address lives. moto's RDS makes none.
        ec2.send(
          new CreateNetworkInterfaceCommand({
            SubnetId: dbZone.id,
            Groups: [dbSg.GroupId!],
            PrivateIpAddress: dbPrivateIp(index),
            Description: RDS_INTERFACE_DESCRIPTION,
          }),
        ),
        // The first environment has a backend in each app subnet; the others one each, taking turns.
        ...Array.from({ length: environment.backendCount }, (_, b) =>
          ec2.send(
            new RunInstancesCommand({
              ImageId: imageId,
              InstanceType: 't3.micro',
              MinCount: 1,
              MaxCount: 1,
              SubnetId: appSubnets[(index + b) % appSubnets.length]!.id,
              SecurityGroupIds: [backendSg.GroupId!],
              IamInstanceProfile: { Name: BACKEND_PROFILE },
              TagSpecifications: nameTag('instance', environment.backendName),
            }),
          ),
        ),
      ]);
      const endpointAddress = created.DBInstance?.Endpoint?.Address;
      if (!endpointAddress) throw new Error(`moto created ${environment.rdsInstanceId} without an endpoint address`);
      const instances = runs.map((run) => {
        const instance = run.Instances![0]!;
        return { id: instance.InstanceId!, name: environment.backendName, privateIp: instance.PrivateIpAddress!, subnetId: instance.SubnetId! };
      });

      const parameters: Array<[string, string, 'String' | 'SecureString']> = [
        ['db-endpoint', endpointAddress, 'String'],
        ['db-username', environment.masterUsername, 'String'],
        ['db-password', environment.masterPassword, 'SecureString'],
        ['db-name', environment.dbName, 'String'],
      ];
      await Promise.all(
        parameters.map(([name, value, type]) =>
          ssm.send(new PutParameterCommand({ Name: `${environment.parameterPrefix}/${name}`, Value: value, Type: type, Description: `LinkBox ${name}` })),
        ),
      );
      const { masterPassword: _secret, ...plan } = environment;
      return {
        environment: plan,
        instances,
        rds: {
          instanceId: environment.rdsInstanceId,
          endpointAddress,
          port: DB_PORT,
          masterUsername: environment.masterUsername,
          dbName: environment.dbName,
          subnetGroupName: DB_SUBNET_GROUP,
          subnetIds: dbSubnets.map((s) => s.id),
          subnetId: dbZone.id,
          privateIp: networkInterface.NetworkInterface!.PrivateIpAddress!,
          networkInterfaceId: networkInterface.NetworkInterface!.NetworkInterfaceId!,
        },
      };
    };
    const environments = await Promise.all(options.environments.map(seedEnvironment));

    return {
      accountId: accountId!,
      vpc: {
        id: vpcId,
        cidr: VPC_CIDR,
        appSubnets,
        dbSubnets,
        defaultNetworkAclId: defaultAcl.NetworkAclId,
        appNetworkAclId: appAclId,
        dbNetworkAclId: dbAclId,
        backendSecurityGroupId: backendSg.GroupId!,
        dbSecurityGroupId: dbSg.GroupId!,
        consoleSecurityGroupId: consoleSg.GroupId!,
      },
      environments,
    };
  } finally {
    for (const client of [ec2, rds, iam, ssm, sts]) client.destroy();
  }
}
