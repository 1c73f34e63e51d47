import { AuthorizeSecurityGroupIngressCommand, CreateSecurityGroupCommand, CreateSubnetCommand, CreateVpcCommand, DescribeImagesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { AddRoleToInstanceProfileCommand, CreateInstanceProfileCommand, CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateDBInstanceCommand, CreateDBSubnetGroupCommand, RDSClient } from '@aws-sdk/client-rds';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { MASTER_DATABASE, MASTER_USERNAME } from './postgres';

// The LinkBox world as CloudFormation would build it (infrastructure/02-database.yml and
// 03-backend.yml), created through the AWS APIs so moto holds exactly what the console will read.

export const PARAMETER_PREFIX = '/linkbox';
export const RDS_INSTANCE_ID = 'linkbox-db';
export const DB_PORT = 5432;
export const BACKEND_SG_NAME = 'linkbox-backend-sg';
export const DB_SG_NAME = 'linkbox-db-sg';
/** The ops console's own group, as its deployment inside the VPC would create it; the DB group admits it. */
export const CONSOLE_SG_NAME = 'linkbox-ops-console-sg';
export const BACKEND_NAME = 'linkbox-backend';
export const BACKEND_ROLE = 'linkbox-backend-role';
export const BACKEND_PROFILE = 'linkbox-backend-profile';
/** The seed's own caller, so its calls are easy to tell apart (they are zeroed after seeding anyway). */
export const SEED_CREDENTIALS = { accessKeyId: 'LABSEED', secretAccessKey: 'lab-not-a-secret' };

export interface SeededWorld {
  accountId: string;
  vpcId: string;
  subnetIds: string[];
  backendSecurityGroupId: string;
  dbSecurityGroupId: string;
  consoleSecurityGroupId: string;
  instances: Array<{ id: string; name: string; privateIp: string }>;
  rds: { instanceId: string; endpointAddress: string; port: number; masterUsername: string; dbName: string };
}

export async function seedLinkBox(options: { endpoint: string; region: string; masterPassword: string }): Promise<SeededWorld> {
  const common = { region: options.region, endpoint: options.endpoint, credentials: SEED_CREDENTIALS, maxAttempts: 5 };
  const ec2 = new EC2Client(common);
  const rds = new RDSClient(common);
  const iam = new IAMClient(common);
  const ssm = new SSMClient(common);
  const sts = new STSClient(common);
  try {
    const nameTag = (resource: 'vpc' | 'subnet' | 'security-group' | 'instance', name: string) => [
      { ResourceType: resource, Tags: [{ Key: 'Name', Value: name }, { Key: 'Project', Value: 'linkbox' }] },
    ];
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
                { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: `arn:aws:ssm:${options.region}:${accountId}:parameter${PARAMETER_PREFIX}/*` },
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
      ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16', TagSpecifications: nameTag('vpc', 'linkbox-vpc') })),
      ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] })),
    ]);
    const vpcId = Vpc!.VpcId!;
    const imageId = Images?.find((i) => i.ImageId)?.ImageId ?? 'ami-12c6146b';
    const roleReady = createRoleAndProfile();

    const [subnets, backendSg, dbSg, consoleSg] = await Promise.all([
      // Subnet order is instance order: the first backend (the tunnel's carrier) lives in 10.0.1.0/24.
      Promise.all(
        ['a', 'b'].map((zone, i) =>
          ec2.send(
            new CreateSubnetCommand({
              VpcId: vpcId,
              CidrBlock: `10.0.${i + 1}.0/24`,
              AvailabilityZone: `${options.region}${zone}`,
              TagSpecifications: nameTag('subnet', `linkbox-private-${zone}`),
            }),
          ),
        ),
      ),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: BACKEND_SG_NAME, Description: 'LinkBox backend instances', VpcId: vpcId, TagSpecifications: nameTag('security-group', BACKEND_SG_NAME) })),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: DB_SG_NAME, Description: 'LinkBox RDS PostgreSQL', VpcId: vpcId, TagSpecifications: nameTag('security-group', DB_SG_NAME) })),
      ec2.send(new CreateSecurityGroupCommand({ GroupName: CONSOLE_SG_NAME, Description: 'LinkBox ops console', VpcId: vpcId, TagSpecifications: nameTag('security-group', CONSOLE_SG_NAME) })),
    ]);
    const subnetIds = subnets.map((s) => s.Subnet!.SubnetId!);

    await Promise.all([
      rds.send(new CreateDBSubnetGroupCommand({ DBSubnetGroupName: 'linkbox-db-subnets', DBSubnetGroupDescription: 'LinkBox private subnets', SubnetIds: subnetIds })),
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

    const [created, ...runs] = await Promise.all([
      rds.send(
        new CreateDBInstanceCommand({
          DBInstanceIdentifier: RDS_INSTANCE_ID,
          Engine: 'postgres',
          EngineVersion: '17.2',
          DBInstanceClass: 'db.t3.micro',
          AllocatedStorage: 20,
          MasterUsername: MASTER_USERNAME,
          MasterUserPassword: options.masterPassword,
          DBName: MASTER_DATABASE,
          Port: DB_PORT,
          PubliclyAccessible: false,
          VpcSecurityGroupIds: [dbSg.GroupId!],
          DBSubnetGroupName: 'linkbox-db-subnets',
          Tags: [{ Key: 'Name', Value: RDS_INSTANCE_ID }, { Key: 'Project', Value: 'linkbox' }],
        }),
      ),
      ...subnetIds.map((subnetId) =>
        ec2.send(
          new RunInstancesCommand({
            ImageId: imageId,
            InstanceType: 't3.micro',
            MinCount: 1,
            MaxCount: 1,
            SubnetId: subnetId,
            SecurityGroupIds: [backendSg.GroupId!],
            IamInstanceProfile: { Name: BACKEND_PROFILE },
            TagSpecifications: nameTag('instance', BACKEND_NAME),
          }),
        ),
      ),
    ]);
    const endpointAddress = created.DBInstance?.Endpoint?.Address;
    if (!endpointAddress) throw new Error('moto created linkbox-db without an endpoint address');
    const instances: SeededWorld['instances'] = runs.map((run) => {
      const instance = run.Instances![0]!;
      return { id: instance.InstanceId!, name: BACKEND_NAME, privateIp: instance.PrivateIpAddress! };
    });

    const parameters: Array<[string, string, 'String' | 'SecureString']> = [
      ['db-endpoint', endpointAddress, 'String'],
      ['db-username', MASTER_USERNAME, 'String'],
      ['db-password', options.masterPassword, 'SecureString'],
      ['db-name', MASTER_DATABASE, 'String'],
    ];
    await Promise.all(
      parameters.map(([name, value, type]) =>
        ssm.send(new PutParameterCommand({ Name: `${PARAMETER_PREFIX}/${name}`, Value: value, Type: type, Description: `LinkBox ${name}` })),
      ),
    );

    return {
      accountId: accountId!,
      vpcId,
      subnetIds,
      backendSecurityGroupId: backendSg.GroupId!,
      dbSecurityGroupId: dbSg.GroupId!,
      consoleSecurityGroupId: consoleSg.GroupId!,
      instances,
      rds: { instanceId: RDS_INSTANCE_ID, endpointAddress, port: DB_PORT, masterUsername: MASTER_USERNAME, dbName: MASTER_DATABASE },
    };
  } finally {
    for (const client of [ec2, rds, iam, ssm, sts]) client.destroy();
  }
}
