import { beforeAll, describe, expect, it } from 'vitest';
import { awsCli, eventually, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// The seed's runbook commands, run with the AWS CLI v2 against the lab, get LinkBox's answers.

let lab: TestLab;

beforeAll(async () => {
  // The CLI takes seconds per command on a busy machine; the reset phase must outlast two of them.
  lab = await startTestLab({ resetSeconds: 20 });
});

async function cli(...args: string[]) {
  const result = await awsCli(lab, args);
  expect(result.code, `aws ${args.join(' ')} failed: ${result.stderr}`).toBe(0);
  return result.json as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('the AWS CLI against the lab', () => {
  it('reads /linkbox/db-endpoint as the RDS endpoint address the instance reports', async () => {
    const out = await cli('ssm', 'get-parameter', '--name', '/linkbox/db-endpoint');
    expect(out.Parameter.Value).toBe(lab.rds.endpointAddress);
    const db = await cli('rds', 'describe-db-instances', '--db-instance-identifier', 'linkbox-db');
    expect(db.DBInstances[0].Endpoint.Address).toBe(out.Parameter.Value);
  });

  it('keeps db-password a SecureString that only --with-decryption reveals, and it logs in to the database', async () => {
    const hidden = await cli('ssm', 'get-parameter', '--name', '/linkbox/db-password');
    expect(hidden.Parameter.Type).toBe('SecureString');
    const shown = await cli('ssm', 'get-parameter', '--name', '/linkbox/db-password', '--with-decryption');
    const password = shown.Parameter.Value as string;
    expect(password).toMatch(/^[A-Za-z0-9\-_.~]{32}$/);
    expect(hidden.Parameter.Value).not.toBe(password);
    expect(await tryDbLogin(lab, password)).toBe('ok');
  });

  it('answers the MasterUsername query of the authentication-failed runbook with linkbox, matching db-username', async () => {
    const username = await cli('rds', 'describe-db-instances', '--db-instance-identifier', 'linkbox-db', '--query', 'DBInstances[0].MasterUsername');
    expect(username).toBe('linkbox');
    const parameter = await cli('ssm', 'get-parameter', '--name', '/linkbox/db-username', '--query', 'Parameter.Value');
    expect(parameter).toBe(username);
  });

  it('reports linkbox-db as private, postgres, in the DB security group', async () => {
    const db = (await cli('rds', 'describe-db-instances', '--db-instance-identifier', 'linkbox-db')).DBInstances[0];
    expect(db).toMatchObject({ Engine: 'postgres', PubliclyAccessible: false, DBName: 'linkbox', DBInstanceStatus: 'available' });
    const sg = await cli('ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*');
    expect(db.VpcSecurityGroups.map((g: { VpcSecurityGroupId: string }) => g.VpcSecurityGroupId)).toEqual([sg.SecurityGroups[0].GroupId]);
  });

  it('finds linkbox-db-sg by its Name tag, admitting the backend security group and the ops console\'s on 5432', async () => {
    const out = await cli('ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*');
    expect(out.SecurityGroups).toHaveLength(1);
    const groupId = async (name: string) => (await cli('ec2', 'describe-security-groups', '--filters', `Name=tag:Name,Values=${name}`)).SecurityGroups[0].GroupId;
    // EC2 describes the two authorizations on the same port as one permission with two pairs.
    expect(out.SecurityGroups[0].IpPermissions).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 5432,
        ToPort: 5432,
        UserIdGroupPairs: [expect.objectContaining({ GroupId: await groupId('linkbox-backend-sg') }), expect.objectContaining({ GroupId: await groupId('linkbox-ops-console-sg') })],
      }),
    ]);
  });

  it('lists two running backend instances tagged linkbox-backend, in the backend group, with the instance profile', async () => {
    const out = await cli('ec2', 'describe-instances', '--filters', 'Name=tag:Name,Values=linkbox-backend', 'Name=instance-state-name,Values=running');
    const instances = out.Reservations.flatMap((r: { Instances: unknown[] }) => r.Instances);
    expect(instances).toHaveLength(2);
    for (const instance of instances) {
      expect(instance.SecurityGroups.map((g: { GroupName: string }) => g.GroupName)).toEqual(['linkbox-backend-sg']);
      expect(instance.IamInstanceProfile.Arn).toMatch(/instance-profile\/linkbox-backend-profile$/);
    }
    expect(instances.map((i: { InstanceId: string }) => i.InstanceId).sort()).toEqual(lab.instances.map((i) => i.id).sort());
  });

  it("grants the backend role ssm:GetParameter(s) on /linkbox/* and kms:Decrypt, as the seed's IAM check expects", async () => {
    const policies = await cli('iam', 'list-role-policies', '--role-name', 'linkbox-backend-role');
    const policy = await cli('iam', 'get-role-policy', '--role-name', 'linkbox-backend-role', '--policy-name', policies.PolicyNames[0]);
    const document = typeof policy.PolicyDocument === 'string' ? JSON.parse(decodeURIComponent(policy.PolicyDocument)) : policy.PolicyDocument;
    const statements = document.Statement as Array<{ Action: string[]; Resource: string }>;
    expect(statements).toContainEqual(expect.objectContaining({ Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/*' }));
    expect(statements.some((s) => s.Action.includes('kms:Decrypt'))).toBe(true);
  });

  it('overwrites a parameter with put-parameter --overwrite as a new version', async () => {
    const put = await cli('ssm', 'put-parameter', '--name', '/linkbox/db-name', '--type', 'String', '--value', 'linkbox', '--overwrite');
    expect(put.Version).toBe(2);
    const out = await cli('ssm', 'get-parameter', '--name', '/linkbox/db-name');
    expect(out.Parameter).toMatchObject({ Value: 'linkbox', Version: 2 });
  });

  it('shows modify-db-instance --master-user-password as resetting-master-credentials with a pending password, then available', async () => {
    const out = await cli('rds', 'modify-db-instance', '--db-instance-identifier', 'linkbox-db', '--master-user-password', 'Cli-Rotation-Pass-1', '--apply-immediately');
    expect(out.DBInstance.DBInstanceStatus).toBe('resetting-master-credentials');
    expect(out.DBInstance.PendingModifiedValues).toEqual({ MasterUserPassword: '****' });
    const during = (await cli('rds', 'describe-db-instances', '--db-instance-identifier', 'linkbox-db')).DBInstances[0];
    expect(during.DBInstanceStatus).toBe('resetting-master-credentials');
    const after = await eventually(async () => {
      const db = (await cli('rds', 'describe-db-instances', '--db-instance-identifier', 'linkbox-db')).DBInstances[0];
      return db.DBInstanceStatus === 'available' ? db : undefined;
    }, 'linkbox-db to be available again', 60_000);
    expect(after.PendingModifiedValues ?? {}).toEqual({});
  });

  it('rejects a master password RDS would reject, in RDS words', async () => {
    const result = await awsCli(lab, ['rds', 'modify-db-instance', '--db-instance-identifier', 'linkbox-db', '--master-user-password', 'has/slash-and@at', '--apply-immediately']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('InvalidParameterValue');
    expect(result.stderr).toContain('MasterUserPassword');
    expect(result.stderr).not.toContain('has/slash-and@at');
  });
});
