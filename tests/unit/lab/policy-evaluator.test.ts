import { describe, expect, test } from 'vitest';
import {
  evaluate,
  evaluateResourcePolicy,
  PolicyEvaluationError,
  resourceMatches,
  wildcard,
  type PolicySource,
  type RequestContext,
} from '@/infra/lab/iam/policy-evaluator';
import { policyText, statementsOf } from '@/infra/lab/iam/policy-document';

// The lab's IAM policy evaluation on its own: the rules of AWS's "Policy evaluation logic" and
// "Condition operators" pages as a table of policies and requests. No moto, no lab; milliseconds.

const ACCOUNT = '123456789012';
const PARAMETER = `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/linkbox/db-password`;
const INSTANCE = `arn:aws:ec2:us-east-1:${ACCOUNT}:instance/i-0abc`;

const backendRole: PolicySource = {
  id: 'linkbox-ssm-parameters',
  type: 'role',
  document: JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/linkbox/*` },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
      ],
    },
    null,
    2,
  ),
};

function policy(id: string, statement: object | object[], type: PolicySource['type'] = 'role'): PolicySource {
  return { id, type, document: JSON.stringify({ Version: '2012-10-17', Statement: statement }) };
}

function decision(sources: PolicySource[], action: string, resource: string, context?: RequestContext) {
  return evaluate(sources, { action, resource, context }).decision;
}

describe('Allow, Deny and the default', () => {
  test('an Allow whose action and resource wildcards match allows, and names the statement that matched', () => {
    const result = evaluate([backendRole], { action: 'ssm:GetParameter', resource: PARAMETER });
    expect(result.decision).toBe('allowed');
    expect(result.matched).toEqual([{ sourcePolicyId: 'linkbox-ssm-parameters', sourcePolicyType: 'role', start: { line: 4, column: 5 }, end: { line: 11, column: 6 } }]);
  });

  test('a resource outside the allowed prefix is implicitly denied with no matched statement', () => {
    expect(evaluate([backendRole], { action: 'ssm:GetParameter', resource: `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/other/x` })).toEqual({
      decision: 'implicitDeny',
      matched: [],
      missingContextValues: [],
    });
  });

  test('an action the policy does not list is implicitly denied', () => {
    expect(decision([backendRole], 'ssm:PutParameter', PARAMETER)).toBe('implicitDeny');
  });

  test('no policy at all is an implicit deny', () => {
    expect(decision([], 'ssm:GetParameter', PARAMETER)).toBe('implicitDeny');
  });

  test('action names match case-insensitively, resources case-sensitively', () => {
    expect(decision([backendRole], 'SSM:getparameter', PARAMETER)).toBe('allowed');
    expect(decision([backendRole], 'ssm:GetParameter', PARAMETER.replace('/linkbox/', '/LinkBox/'))).toBe('implicitDeny');
  });

  test('an explicit Deny in any policy wins over an Allow, and only the Deny is reported', () => {
    const deny = policy('deny-secrets', { Effect: 'Deny', Action: 'ssm:*', Resource: 'arn:aws:ssm:*:*:parameter/*password*' }, 'user-managed');
    const result = evaluate([backendRole, deny], { action: 'ssm:GetParameter', resource: PARAMETER });
    expect(result.decision).toBe('explicitDeny');
    expect(result.matched.map((m) => m.sourcePolicyId)).toEqual(['deny-secrets']);
  });

  test('NotAction and NotResource invert the match', () => {
    const allButIam = policy('all-but-iam', [{ Effect: 'Allow', NotAction: 'iam:*', NotResource: 'arn:aws:ssm:*:*:parameter/secret/*' }], 'aws-managed');
    expect(decision([allButIam], 'ssm:GetParameter', PARAMETER)).toBe('allowed');
    expect(decision([allButIam], 'iam:CreateUser', '*')).toBe('implicitDeny');
    expect(decision([allButIam], 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:1:parameter/secret/x')).toBe('implicitDeny');
  });
});

describe('wildcards', () => {
  test.each([
    ['ssm:Get*', 'ssm:GetParameters', true],
    ['ssm:GetParameter?', 'ssm:GetParameters', true],
    ['ssm:GetParameter?', 'ssm:GetParameter', false],
    ['*', 'rds:ModifyDBInstance', true],
    ['ec2:Describe*', 'ec2:RevokeSecurityGroupIngress', false],
  ])('action %s against %s: %s', (pattern, action, expected) => {
    expect(wildcard(pattern, action, true)).toBe(expected);
  });

  test.each([
    ['*', PARAMETER, true],
    [`arn:aws:ssm:*:${ACCOUNT}:parameter/linkbox/*`, PARAMETER, true],
    // a `*` that ends an ARN component may run across the colons after it
    ['arn:aws:ssm:*:parameter/linkbox/db-????????', 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/db-endpoint', true],
    ['arn:aws:ssm:*:parameter/linkbox/db-????', 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/db-endpoint', false],
    // inside a component it may not
    ['arn:aws:ssm:us-*1:parameter/linkbox/*', PARAMETER, false],
    ['arn:aws:ssm:us-*:*:parameter/linkbox/*', PARAMETER, true],
    // the resource id may hold colons (RDS: db:<name>)
    [`arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-*`, `arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-db`, true],
    [`arn:aws:rds:us-east-1:${ACCOUNT}:db:linkbox-db`, `arn:aws:rds:us-east-1:${ACCOUNT}:db:*`, false],
    ['arn:aws:ssm:us-east-1::document/AWS-RunShellScript', 'arn:aws:ssm:us-east-1::document/AWS-RunShellScript', true],
    ['arn:aws:ssm:*:*:document/AWS-RunShellScript', 'arn:aws:ssm:us-east-1::document/AWS-RunShellScript', true],
  ])('resource %s against %s: %s', (pattern, resource, expected) => {
    expect(resourceMatches(pattern, resource)).toBe(expected);
  });
});

describe('conditions', () => {
  const allowWhen = (condition: object) => policy('conditional', { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: '*', Condition: condition });
  const denyWhen = (condition: object) => policy('conditional-deny', { Effect: 'Deny', Action: 'ssm:SendCommand', Resource: '*', Condition: condition });
  const tagged = { 'ssm:resourceTag/Name': 'linkbox-backend', 'aws:ResourceTag/Name': 'linkbox-backend' };

  test.each<[string, object, RequestContext, 'allowed' | 'implicitDeny']>([
    ['StringEquals matches exactly', { StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend' } }, tagged, 'allowed'],
    ['StringEquals is case-sensitive in the value', { StringEquals: { 'ssm:resourceTag/Name': 'LinkBox-Backend' } }, tagged, 'implicitDeny'],
    ['condition key names are not case-sensitive', { StringEquals: { 'SSM:ResourceTag/name': 'linkbox-backend' } }, tagged, 'allowed'],
    ['StringEqualsIgnoreCase ignores case', { StringEqualsIgnoreCase: { 'ssm:resourceTag/Name': 'LinkBox-Backend' } }, tagged, 'allowed'],
    ['StringLike takes wildcards', { StringLike: { 'ssm:resourceTag/Name': 'linkbox-*' } }, tagged, 'allowed'],
    ['values of one key OR together', { StringEquals: { 'ssm:resourceTag/Name': ['web', 'linkbox-backend'] } }, tagged, 'allowed'],
    ['keys of one operator AND together', { StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend', 'ssm:resourceTag/Env': 'prod' } }, tagged, 'implicitDeny'],
    ['operators AND together', { StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend' }, Bool: { 'aws:SecureTransport': 'true' } }, { ...tagged, 'aws:SecureTransport': 'false' }, 'implicitDeny'],
    ['StringNotEquals values NOR together', { StringNotEquals: { 'ssm:resourceTag/Name': ['web', 'linkbox-backend'] } }, tagged, 'implicitDeny'],
    ['StringNotEquals with none of the values matches', { StringNotEquals: { 'ssm:resourceTag/Name': ['web', 'db'] } }, tagged, 'allowed'],
    ['an absent key makes StringEquals false', { StringEquals: { 'ssm:resourceTag/Name': 'linkbox-backend' } }, {}, 'implicitDeny'],
    ['an absent key makes a negated operator true', { StringNotEquals: { 'ssm:resourceTag/Name': 'web' } }, {}, 'allowed'],
    ['an absent key makes ...IfExists true', { StringEqualsIfExists: { 'ssm:resourceTag/Name': 'web' } }, {}, 'allowed'],
    ['a present key is still checked by ...IfExists', { StringEqualsIfExists: { 'ssm:resourceTag/Name': 'web' } }, tagged, 'implicitDeny'],
    ['Bool compares true/false', { Bool: { 'aws:ViaAWSService': 'true' } }, { 'aws:ViaAWSService': 'true' }, 'allowed'],
    ['Null:true holds when the key is absent', { Null: { 'sts:ExternalId': 'true' } }, {}, 'allowed'],
    ['Null:false holds when the key is present', { Null: { 'sts:ExternalId': 'false' } }, { 'sts:ExternalId': 'x' }, 'allowed'],
    ['ArnLike compares ARN components with wildcards', { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/linkbox-*' } }, { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/linkbox-ops` }, 'allowed'],
    ['ArnLike does not let a * inside a component cross a colon', { ArnLike: { 'aws:PrincipalArn': 'arn:aws:iam::*role/linkbox-ops' } }, { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/linkbox-ops` }, 'implicitDeny'],
    ['ArnEquals behaves as ArnLike', { ArnEquals: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/*` } }, { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/linkbox-ops` }, 'allowed'],
    ['ArnNotLike holds for another ARN', { ArnNotLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/admin' } }, { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/linkbox-ops` }, 'allowed'],
    ['IpAddress checks a CIDR block', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }, { 'aws:SourceIp': '127.0.0.1' }, 'allowed'],
    ['NotIpAddress holds outside the block', { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }, { 'aws:SourceIp': '127.0.0.1' }, 'allowed'],
    ['NumericLessThan compares numbers', { NumericLessThan: { 'ssm:TimeoutSeconds': '60' } }, { 'ssm:TimeoutSeconds': '30' }, 'allowed'],
    ['DateGreaterThan compares dates', { DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z' } }, { 'aws:CurrentTime': '2026-01-01T00:00:00Z' }, 'allowed'],
    ['ForAnyValue: one of the values suffices', { 'ForAnyValue:StringEquals': { 'kms:EncryptionContextKeys': 'PARAMETER_ARN' } }, { 'kms:EncryptionContextKeys': ['PARAMETER_ARN', 'other'] }, 'allowed'],
    ['ForAnyValue: an absent key is false', { 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'team' } }, {}, 'implicitDeny'],
    ['ForAllValues: every value must match', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } }, { 'aws:TagKeys': ['team', 'cost'] }, 'implicitDeny'],
    ['ForAllValues: a subset matches', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } }, { 'aws:TagKeys': ['team'] }, 'allowed'],
    ['ForAllValues: an absent key is true', { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } }, {}, 'allowed'],
    ['kms:ViaService names the service acting for the caller', { StringEquals: { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com' } }, { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com' }, 'allowed'],
    ['kms:ViaService is absent on a direct KMS call', { StringEquals: { 'kms:ViaService': 'ssm.us-east-1.amazonaws.com' } }, {}, 'implicitDeny'],
  ])('%s', (_, condition, context, expected) => {
    expect(decision([allowWhen(condition)], 'ssm:SendCommand', INSTANCE, context)).toBe(expected);
  });

  test('a Deny with a negated condition applies when the key is absent (a Deny unless tagged)', () => {
    const sources = [policy('allow', { Effect: 'Allow', Action: 'ssm:SendCommand', Resource: '*' }), denyWhen({ StringNotEquals: { 'ssm:resourceTag/Name': 'linkbox-backend' } })];
    expect(decision(sources, 'ssm:SendCommand', INSTANCE, tagged)).toBe('allowed');
    expect(decision(sources, 'ssm:SendCommand', INSTANCE, {})).toBe('explicitDeny');
  });

  test('the condition keys a matching statement needed but the context lacked are reported, as the simulator does', () => {
    const onlyFromVpc = policy('only-from-vpc', [{ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*', Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } } }]);
    expect(evaluate([onlyFromVpc], { action: 'ssm:GetParameter', resource: PARAMETER })).toEqual({ decision: 'implicitDeny', matched: [], missingContextValues: ['aws:SourceVpc'] });
  });

  test('policy variables are replaced from the context, and a variable without a value matches nothing', () => {
    const own = policy('own-prefix', { Effect: 'Allow', Action: 'ssm:GetParameter', Resource: `arn:aws:ssm:*:*:parameter/home/\${aws:username}/*` });
    const resource = `arn:aws:ssm:us-east-1:${ACCOUNT}:parameter/home/alice/token`;
    expect(decision([own], 'ssm:GetParameter', resource, { 'aws:username': 'alice' })).toBe('allowed');
    expect(decision([own], 'ssm:GetParameter', resource, { 'aws:username': 'bob' })).toBe('implicitDeny');
    expect(decision([own], 'ssm:GetParameter', resource, {})).toBe('implicitDeny');
  });

  test('an unknown condition operator is an error naming it, never a silent allow', () => {
    const odd = allowWhen({ StringSoundsLike: { 'ssm:resourceTag/Name': 'linkbox' } });
    expect(() => evaluate([odd], { action: 'ssm:SendCommand', resource: INSTANCE, context: tagged })).toThrow(PolicyEvaluationError);
    expect(() => evaluate([odd], { action: 'ssm:SendCommand', resource: INSTANCE, context: tagged })).toThrow(/policy "conditional": unknown condition operator "StringSoundsLike"/);
  });

  test('an unknown set qualifier is an error too', () => {
    expect(() => evaluate([allowWhen({ 'ForSomeValues:StringEquals': { 'aws:TagKeys': 'x' } })], { action: 'ssm:SendCommand', resource: '*' })).toThrow(/unknown condition set operator "ForSomeValues"/);
  });
});

describe('resource-based policies: a role trust policy', () => {
  const roleArn = `arn:aws:iam::${ACCOUNT}:role/linkbox-ops-console`;
  const trust = (statement: object): PolicySource => policy('trust', statement, 'resource');
  const caller = { arn: `arn:aws:iam::${ACCOUNT}:user/ops`, accountId: ACCOUNT };

  test('naming the account delegates to the caller\'s own policies; naming the caller grants outright', () => {
    const byAccount = evaluateResourcePolicy(trust({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'sts:AssumeRole' }), {
      action: 'sts:AssumeRole',
      resource: roleArn,
      principal: caller,
    });
    expect(byAccount).toMatchObject({ decision: 'allowed', grant: 'account' });
    const byName = evaluateResourcePolicy(trust({ Effect: 'Allow', Principal: { AWS: [ACCOUNT, caller.arn] }, Action: 'sts:AssumeRole' }), {
      action: 'sts:AssumeRole',
      resource: roleArn,
      principal: caller,
    });
    expect(byName).toMatchObject({ decision: 'allowed', grant: 'principal' });
  });

  test('sts:ExternalId must match the trust policy\'s condition', () => {
    const withExternalId = trust({ Effect: 'Allow', Principal: { AWS: ACCOUNT }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'sts:ExternalId': 'lab-external-id' } } });
    const ask = (context: RequestContext) => evaluateResourcePolicy(withExternalId, { action: 'sts:AssumeRole', resource: roleArn, principal: caller, context }).decision;
    expect(ask({ 'sts:ExternalId': 'lab-external-id' })).toBe('allowed');
    expect(ask({ 'sts:ExternalId': 'guess' })).toBe('implicitDeny');
    expect(ask({})).toBe('implicitDeny');
  });

  test('another account, another principal or a service principal do not match', () => {
    const other = trust({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::999999999999:root', Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' });
    expect(evaluateResourcePolicy(other, { action: 'sts:AssumeRole', resource: roleArn, principal: caller }).decision).toBe('implicitDeny');
    expect(evaluateResourcePolicy(other, { action: 'sts:AssumeRole', resource: roleArn, principal: { ...caller, service: 'ec2.amazonaws.com' } })).toMatchObject({ decision: 'allowed', grant: 'principal' });
  });

  test('a session of a role matches a trust policy naming the role', () => {
    const session = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci`, accountId: ACCOUNT, roleArn: `arn:aws:iam::${ACCOUNT}:role/deployer` };
    const trustsDeployer = trust({ Effect: 'Allow', Principal: { AWS: session.roleArn }, Action: 'sts:AssumeRole' });
    expect(evaluateResourcePolicy(trustsDeployer, { action: 'sts:AssumeRole', resource: roleArn, principal: session }).decision).toBe('allowed');
  });
});

describe('documents as moto stores them', () => {
  test('a policy document that is not JSON is rejected rather than read as allowing nothing', () => {
    expect(() => statementsOf('{"Statement": [')).toThrow(SyntaxError);
    expect(() => evaluate([{ id: 'broken', type: 'role', document: '{"Statement": [' }], { action: 'ssm:GetParameter', resource: '*' })).toThrow(PolicyEvaluationError);
  });

  test('URL-encoded documents (IAM\'s query API) and Python dict reprs (moto\'s CloudFormation roles) read as JSON', () => {
    const statement = { Effect: 'Allow', Action: 'ssm:DescribeParameters', Resource: '*' };
    expect(JSON.parse(policyText(encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }))))).toEqual({ Version: '2012-10-17', Statement: [statement] });
    expect(JSON.parse(policyText("{'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': 'ssm:DescribeParameters', 'Resource': '*', 'Sid': \"it's\"}]}"))).toEqual({
      Version: '2012-10-17',
      Statement: [{ ...statement, Sid: "it's" }],
    });
  });

  test('an identity policy statement without Resource, or with a Principal, cannot be evaluated', () => {
    expect(() => evaluate([policy('no-resource', { Effect: 'Allow', Action: 'ssm:*' })], { action: 'ssm:GetParameter', resource: '*' })).toThrow(/neither Resource nor NotResource/);
    expect(() => evaluate([policy('with-principal', { Effect: 'Allow', Principal: '*', Action: 'ssm:*', Resource: '*' })], { action: 'ssm:GetParameter', resource: '*' })).toThrow(/Principal element/);
  });
});
