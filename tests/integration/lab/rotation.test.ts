import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DescribeDBInstancesCommand, ModifyDBInstanceCommand, RDSClient, StopDBInstanceCommand } from '@aws-sdk/client-rds';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsCli, eventually, startTestLab, tryDbLogin, type TestLab } from '../support/lab';

// The seed's "Rotate Password" runbook, run with the AWS CLI: the password really changes in
// PostgreSQL, but only after RDS's resetting-master-credentials phase.

let lab: TestLab;
let rds: RDSClient;
const NEW_PASSWORD = 'Rotated-by-the-runbook-0001';

beforeAll(async () => {
  lab = await startTestLab({ resetSeconds: 10 });
  rds = new RDSClient({ region: lab.region, endpoint: lab.awsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 1 });
});
afterAll(() => rds?.destroy());

async function currentPassword(): Promise<string> {
  const out = await awsCli(lab, ['ssm', 'get-parameter', '--name', '/linkbox/db-password', '--with-decryption', '--query', 'Parameter.Value']);
  expect(out.code, out.stderr).toBe(0);
  return out.json as string;
}

async function rdsStatus(): Promise<string | undefined> {
  const { DBInstances } = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: 'linkbox-db' }));
  return DBInstances?.[0]?.DBInstanceStatus;
}

describe('rotating the password the seed way', () => {
  let oldPassword: string;
  let session: pg.Client;

  it('makes the new password work and the old one fail once the reset phase is over, keeping open sessions', async () => {
    oldPassword = await currentPassword();
    session = new pg.Client({ host: lab.db.host, port: lab.db.port, user: 'linkbox', password: oldPassword, database: 'linkbox' });
    session.on('error', () => undefined);
    await session.connect();

    const put = await awsCli(lab, ['ssm', 'put-parameter', '--name', '/linkbox/db-password', '--type', 'SecureString', '--value', NEW_PASSWORD, '--overwrite']);
    expect(put.code, put.stderr).toBe(0);
    const modify = await awsCli(lab, ['rds', 'modify-db-instance', '--db-instance-identifier', 'linkbox-db', '--master-user-password', NEW_PASSWORD, '--apply-immediately']);
    expect(modify.code, modify.stderr).toBe(0);

    // RDS has accepted the change but not applied it yet.
    expect(await rdsStatus()).toBe('resetting-master-credentials');
    expect(await tryDbLogin(lab, oldPassword)).toBe('ok');
    expect(await tryDbLogin(lab, NEW_PASSWORD)).toBe('auth-failed');

    await eventually(async () => ((await rdsStatus()) === 'available' ? true : undefined), 'the reset phase to end');
    expect(await tryDbLogin(lab, NEW_PASSWORD)).toBe('ok');
    expect(await tryDbLogin(lab, oldPassword)).toBe('auth-failed');
    expect(await currentPassword()).toBe(NEW_PASSWORD);

    const { rows } = await session.query('SELECT 1 AS still_here');
    expect(rows).toEqual([{ still_here: 1 }]);
    await session.end();
  });

  it('refuses another modification or a stop while credentials are resetting', async () => {
    await rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db', MasterUserPassword: 'Second-rotation-0002', ApplyImmediately: true }));
    await expect(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db', MasterUserPassword: 'Third-rotation-0003', ApplyImmediately: true }))).rejects.toMatchObject({
      name: 'InvalidDBInstanceStateFault', // the SDK's name for RDS's InvalidDBInstanceState
    });
    await expect(rds.send(new StopDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db' }))).rejects.toMatchObject({ name: 'InvalidDBInstanceStateFault' });
    await eventually(async () => ((await rdsStatus()) === 'available' ? true : undefined), 'the reset phase to end');
    expect(await tryDbLogin(lab, 'Second-rotation-0002')).toBe('ok');
    expect(await tryDbLogin(lab, 'Third-rotation-0003')).toBe('auth-failed');
  });

  it('rejects passwords RDS rejects without changing anything', async () => {
    for (const bad of ['short', 'has a space in it', 'quote"inside-it', 'x'.repeat(129)]) {
      await expect(rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: 'linkbox-db', MasterUserPassword: bad, ApplyImmediately: true }))).rejects.toMatchObject({
        name: 'InvalidParameterValue',
      });
    }
    expect(await rdsStatus()).toBe('available');
    expect(await tryDbLogin(lab, 'Second-rotation-0002')).toBe('ok');
  });

  it('never writes a password into the lab log or its log files', async () => {
    const secrets = [oldPassword, NEW_PASSWORD, 'Second-rotation-0002', 'Third-rotation-0003'];
    const dataDir = join(lab.configPath, '..');
    const files = await Promise.all(['moto.log', 'postgres.log'].map((f) => readFile(join(dataDir, f), 'utf8').catch(() => '')));
    for (const text of [lab.logLines.join('\n'), ...files]) {
      for (const secret of secrets) expect(text).not.toContain(secret);
    }
  });
});
