import { describe, expect, it } from 'vitest';
import { awsEnvironmentSchema } from '@/lib/config/schema';
import { loginTargetFor, loginToDatabase } from '@/lib/db/login';
import { DB_ENDPOINT, PASSWORD, startFakePostgres, UNIT_CA_PATH } from '../checks/support';

// The one rule for where the master password goes: the endpoint RDS reports, or the configured
// tunnel to it, verified by RDS's name; never the SSM db-endpoint String.

const base = {
  name: 'production',
  kind: 'aws',
  region: 'eu-west-1',
  rdsInstanceId: 'linkbox-db',
  dbSecurityGroup: { ids: ['sg-db'] },
  backendSecurityGroup: { ids: ['sg-app'] },
  backendInstances: { ids: ['i-1'] },
} as const;
const rds = { address: 'linkbox-db.abc.eu-west-1.rds.amazonaws.com', port: 5432 };
const ssm = { user: 'linkbox', database: 'linkbox' };

describe('loginTargetFor', () => {
  it('logs in at the endpoint RDS reports, with TLS verified against the RDS CA bundle by that name', () => {
    const env = awsEnvironmentSchema.parse(base);
    expect(loginTargetFor(env, { ...ssm, rdsEndpoint: rds })).toEqual({
      ok: true,
      target: { host: rds.address, port: 5432, user: 'linkbox', database: 'linkbox', transport: { kind: 'verified-tls', serverName: rds.address, caBundle: 'aws-rds' } },
    });
  });

  it('goes through the tunnel when one is configured, still verifying the name RDS reports', () => {
    const env = awsEnvironmentSchema.parse({ ...base, reachVia: { host: '127.0.0.1', port: 15432 }, dbCaBundle: '/etc/linkbox/rds-ca.pem' });
    expect(loginTargetFor(env, { ...ssm, rdsEndpoint: rds })).toMatchObject({
      ok: true,
      target: { host: '127.0.0.1', port: 15432, transport: { serverName: rds.address, caBundle: '/etc/linkbox/rds-ca.pem' } },
    });
  });

  it('has nowhere to go when RDS reports no endpoint: it never falls back to SSM', () => {
    const env = awsEnvironmentSchema.parse(base);
    expect(loginTargetFor(env, { ...ssm, rdsEndpoint: null })).toEqual({ ok: false, missing: ['rds-endpoint'] });
    expect(loginTargetFor(env, { ...ssm, rdsEndpoint: { address: null, port: null } })).toEqual({ ok: false, missing: ['rds-endpoint'] });
  });

  it('accepts only "aws-rds" or an absolute path as the CA bundle', () => {
    expect(awsEnvironmentSchema.safeParse({ ...base, dbCaBundle: 'rds-ca.pem' }).success).toBe(false);
    expect(awsEnvironmentSchema.safeParse({ ...base, dbCaBundle: '/etc/ssl/rds.pem' }).success).toBe(true);
  });
});

describe('loginToDatabase', () => {
  it('trusts only the bundle it is given: RDS\'s own CAs refuse a certificate from another CA, before any password is sent', async () => {
    const server = await startFakePostgres(PASSWORD);
    try {
      const target = { host: '127.0.0.1', port: server.port, user: 'linkbox', database: 'linkbox' };
      const viaRdsBundle = await loginToDatabase({ ...target, transport: { kind: 'verified-tls', serverName: DB_ENDPOINT, caBundle: 'aws-rds' } }, PASSWORD);
      expect(viaRdsBundle).toMatchObject({ ok: false, error: { code: 'tls-untrusted', stage: 'connect' } });
      expect(server.passwordsSeen).toEqual([]);
      const viaItsCa = await loginToDatabase({ ...target, transport: { kind: 'verified-tls', serverName: DB_ENDPOINT, caBundle: UNIT_CA_PATH } }, PASSWORD);
      expect(viaItsCa.ok).toBe(true);
    } finally {
      await server.close();
    }
  });
});
