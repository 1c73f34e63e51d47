import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, cataloguedCalls, consoleIdentityPolicy, environmentPolicy, permissionTable, SDK_HELPER_CALLS, type PolicyScope } from '@/lib/aws/catalogue';
import { awsEnvironmentSchema, consoleConfigSchema, type AwsEnvironmentConfig } from '@/lib/config/schema';

// The catalogue of calls is the console's IAM policy: it must list every call lib/aws sends, and
// nothing it does not send. Read off the code itself, so a new call (GetParameterHistory, another
// Describe*) fails here until the catalogue, and with it the generated policy, allows it.

const root = resolve(__dirname, '../../..');
const awsDir = join(root, 'lib/aws');

/** "service:Operation" for every SDK command constructed, and every SDK helper called, in lib/aws. */
function callsInCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const add = (call: string, file: string) => found.set(call, [...(found.get(call) ?? []), file]);
  for (const name of readdirSync(awsDir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(awsDir, name), 'utf8');
    // Which client package each imported name comes from.
    const packageOf = new Map<string, string>();
    for (const m of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      for (const item of m[1]!.split(',')) {
        const imported = item.trim().replace(/^type\s+/, '').split(/\s+as\s+/).pop()!;
        if (imported) packageOf.set(imported, m[2]!);
      }
    }
    for (const m of text.matchAll(/new\s+([A-Z]\w*)Command\s*\(/g)) {
      const service = packageOf.get(`${m[1]}Command`);
      if (!service) throw new Error(`${name}: new ${m[1]}Command( is not imported from an @aws-sdk/client-* package`);
      add(`${service}:${m[1]}`, name);
    }
    for (const [helper, call] of Object.entries(SDK_HELPER_CALLS)) {
      if (new RegExp(`\\b${helper}\\s*\\(`).test(text)) add(call, name);
    }
    // A waiter or helper the catalogue does not know would send calls this test cannot see.
    for (const m of text.matchAll(/\b(waitFor\w+|waitUntil\w+|paginate\w+)\s*\(/g)) {
      if (!(m[1]! in SDK_HELPER_CALLS)) throw new Error(`${name}: ${m[1]}() sends calls; add what it sends to SDK_HELPER_CALLS in lib/aws/catalogue.ts`);
    }
  }
  return found;
}

const LAB_SCOPE: PolicyScope = { partition: 'aws', accountId: '123456789012' };

function environment(overrides: Record<string, unknown> = {}): AwsEnvironmentConfig {
  return awsEnvironmentSchema.parse({
    name: 'production',
    kind: 'aws',
    region: 'eu-west-1',
    rdsInstanceId: 'linkbox-db',
    dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
    backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
    backendInstances: { tags: { Name: 'linkbox-backend', Project: 'linkbox' } },
    ...overrides,
  });
}

const WRITES = /^(ssm:(Put|Delete|Send)|rds:Modify|kms:Encrypt|sts:AssumeRole)/;

describe('the catalogue of calls', () => {
  it('lists every AWS call lib/aws sends, and nothing it does not send', () => {
    const inCode = callsInCode();
    const catalogued = cataloguedCalls();
    const missing = [...inCode.keys()].filter((c) => !catalogued.has(c)).map((c) => `${c} (sent in ${inCode.get(c)!.join(', ')})`);
    expect(missing, 'calls lib/aws sends that lib/aws/catalogue.ts does not allow').toEqual([]);
    const unused = [...catalogued].filter((c) => !inCode.has(c));
    expect(unused, 'catalogued calls nothing in lib/aws sends: remove them, the policy must stay least privilege').toEqual([]);
  });

  it('gives each statement a distinct id, actions in IAM form and a reason for every wildcard resource', () => {
    expect(new Set(CATALOGUE.map((s) => s.sid)).size).toBe(CATALOGUE.length);
    const env = environment({ backendIam: undefined });
    for (const s of CATALOGUE) {
      for (const action of s.actions) expect(action).toMatch(/^[a-z0-9]+:[A-Z][A-Za-z]+$/);
      const wild = s.resources(env, LAB_SCOPE).some((r) => r.includes('*'));
      expect(wild ? s.wildcard : 'no wildcard', s.sid).toBeTruthy();
    }
  });
});

describe('the policy generated for an environment', () => {
  const policy = environmentPolicy([environment({ backendIam: { instanceProfileName: 'linkbox-backend-profile', roleName: 'linkbox-backend-role' } })], LAB_SCOPE);
  const bySid = Object.fromEntries(policy.Statement.map((s) => [s.Sid, s]));

  it('puts no write and no SendCommand on "*" or on a wildcard without a condition', () => {
    for (const s of policy.Statement) {
      if (!s.Action.some((a) => WRITES.test(a))) continue;
      expect(s.Resource, s.Sid).not.toContain('*');
      if (s.Resource.some((r) => r.includes('*'))) expect(s.Condition, `${s.Sid} has a wildcard resource and no condition`).toBeDefined();
    }
  });

  it('scopes every call to the environment: its parameters, its database, AWS-RunShellScript on instances with the backend tags', () => {
    expect(bySid.ReadParameters!.Resource).toEqual(
      ['db-endpoint', 'db-username', 'db-password', 'db-name', 'db-password-pending'].map((n) => `arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/${n}`),
    );
    expect(bySid.WritePasswordSlots!.Resource).toEqual(['db-password', 'db-password-pending'].map((n) => `arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/${n}`));
    expect(bySid.RemovePendingSlot!.Resource).toEqual(['arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/db-password-pending']);
    expect(bySid.ChangeMasterPassword).toEqual({ Sid: 'ChangeMasterPassword', Effect: 'Allow', Action: ['rds:ModifyDBInstance'], Resource: ['arn:aws:rds:eu-west-1:123456789012:db:linkbox-db'] });
    expect(bySid.RunShellScriptDocument!.Resource).toEqual(['arn:aws:ssm:eu-west-1::document/AWS-RunShellScript']);
    expect(bySid.RunOnBackends!.Condition).toEqual({ StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend', 'ssm:resourceTag/Project': 'linkbox' } });
    expect(bySid.PasswordKeyThroughSsm!.Condition).toEqual({
      StringEquals: {
        'kms:ViaService': 'ssm.eu-west-1.amazonaws.com',
        'kms:EncryptionContext:PARAMETER_ARN': ['db-password', 'db-password-pending'].map((n) => `arn:aws:ssm:eu-west-1:123456789012:parameter/linkbox/${n}`),
      },
    });
    expect(bySid.SimulateBackendRole!.Resource).toEqual(['arn:aws:iam::123456789012:role/linkbox-backend-role']);
    expect(bySid.BackendInstanceProfile!.Resource).toEqual(['arn:aws:iam::123456789012:instance-profile/linkbox-backend-profile']);
  });

  it('names instances by id when the backend selector does, with no condition', () => {
    const byId = environmentPolicy([environment({ backendInstances: { ids: ['i-0abc', 'i-0def'] } })], LAB_SCOPE);
    expect(byId.Statement.find((s) => s.Sid === 'RunOnBackends')).toEqual({
      Sid: 'RunOnBackends',
      Effect: 'Allow',
      Action: ['ssm:SendCommand'],
      Resource: ['arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc', 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0def'],
    });
  });

  it('joins environments of one account: resources are merged, a statement whose condition differs is numbered', () => {
    const staging = environment({ name: 'staging', parameterPrefix: '/linkbox-staging', rdsInstanceId: 'linkbox-staging-db', backendInstances: { tags: { Name: 'linkbox-staging-backend' } } });
    const joined = environmentPolicy([environment(), staging], LAB_SCOPE);
    const sids = joined.Statement.map((s) => s.Sid);
    expect(new Set(sids).size).toBe(sids.length);
    expect(joined.Statement.find((s) => s.Sid === 'ChangeMasterPassword')!.Resource).toEqual([
      'arn:aws:rds:eu-west-1:123456789012:db:linkbox-db',
      'arn:aws:rds:eu-west-1:123456789012:db:linkbox-staging-db',
    ]);
    expect(sids).toEqual(expect.arrayContaining(['RunOnBackends1', 'RunOnBackends2', 'DescribeNetwork']));
  });

  it('allows DescribeDBInstances on db:* only in a region where environments share the credentials (one filtered call for all)', () => {
    const database = (policy: ReturnType<typeof environmentPolicy>) => policy.Statement.find((s) => s.Sid === 'DescribeDatabase')!.Resource;
    const staging = environment({ name: 'staging', parameterPrefix: '/linkbox-staging', rdsInstanceId: 'linkbox-staging-db' });
    expect(database(environmentPolicy([environment()], LAB_SCOPE))).toEqual(['arn:aws:rds:eu-west-1:123456789012:db:linkbox-db']);
    expect(database(environmentPolicy([environment(), staging], LAB_SCOPE))).toEqual([
      'arn:aws:rds:eu-west-1:123456789012:db:linkbox-db',
      'arn:aws:rds:eu-west-1:123456789012:db:*',
      'arn:aws:rds:eu-west-1:123456789012:db:linkbox-staging-db',
    ]);
    // Another region, or other credentials: no call is shared, so no wildcard.
    for (const other of [{ region: 'us-east-1' }, { credentials: { source: 'profile', profile: 'staging' } }]) {
      expect(database(environmentPolicy([environment(), environment({ ...other, name: 'staging', rdsInstanceId: 'linkbox-staging-db' })], LAB_SCOPE))).not.toContainEqual(expect.stringMatching(/db:\*$/));
    }
  });

  it('gives the console identity AssumeRole only on the roles its environments name', () => {
    const config = consoleConfigSchema.parse({
      mode: 'aws',
      environments: [
        environment(),
        environment({ name: 'eu', credentials: { source: 'assume-role', roleArn: 'arn:aws:iam::210987654321:role/linkbox-ops-console', externalId: 'x-1' } }),
      ],
    });
    const identity = consoleIdentityPolicy(config, LAB_SCOPE);
    expect(identity.Statement.at(-1)).toEqual({ Sid: 'AssumeEnvironmentRoles', Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: ['arn:aws:iam::210987654321:role/linkbox-ops-console'] });
    expect(identity.Statement.slice(0, -1)).toEqual(environmentPolicy([config.environments[0] as AwsEnvironmentConfig], LAB_SCOPE).Statement);
  });
});

describe('README "Deploy to AWS"', () => {
  it('shows the permission table generated from the catalogue', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    expect(readme, 'paste permissionTable() from lib/aws/catalogue.ts into README "Deploy to AWS"').toContain(permissionTable());
  });
});
