import { describe, expect, test } from 'vitest';
import { evaluate, statementsOf, wildcard, type PolicySource } from '@/infra/lab/hosts/policy-evaluator';

// The lab's IAM policy evaluation on its own: no moto, no lab. It lives with the lab-hosts tests
// because it is part of the hosts' code; it runs in milliseconds.

const PARAMETER = 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/db-password';

const backendRole: PolicySource = {
  id: 'linkbox-ssm-parameters',
  type: 'role',
  document: JSON.stringify(
    {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['ssm:GetParameter', 'ssm:GetParameters'], Resource: 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/*' },
        { Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' },
      ],
    },
    null,
    2,
  ),
};

describe('IAM policy evaluation', () => {
  test('an Allow whose action and resource wildcards match allows, and names the statement that matched', () => {
    const result = evaluate([backendRole], 'ssm:GetParameter', PARAMETER);
    expect(result.decision).toBe('allowed');
    expect(result.matched).toEqual([{ sourcePolicyId: 'linkbox-ssm-parameters', sourcePolicyType: 'role', start: { line: 4, column: 5 }, end: { line: 11, column: 6 } }]);
  });

  test('a resource outside the allowed prefix is implicitly denied with no matched statement', () => {
    expect(evaluate([backendRole], 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:123456789012:parameter/other/x')).toEqual({
      decision: 'implicitDeny',
      matched: [],
      missingContextValues: [],
    });
  });

  test('an action the policy does not list is implicitly denied', () => {
    expect(evaluate([backendRole], 'ssm:PutParameter', PARAMETER).decision).toBe('implicitDeny');
  });

  test('action names match case-insensitively, resources case-sensitively', () => {
    expect(evaluate([backendRole], 'SSM:getparameter', PARAMETER).decision).toBe('allowed');
    expect(evaluate([backendRole], 'ssm:GetParameter', PARAMETER.replace('/linkbox/', '/LinkBox/')).decision).toBe('implicitDeny');
  });

  test('an explicit Deny in any policy wins over an Allow', () => {
    const deny: PolicySource = {
      id: 'deny-secrets',
      type: 'user-managed',
      document: JSON.stringify({ Statement: { Effect: 'Deny', Action: 'ssm:*', Resource: '*password*' } }),
    };
    const result = evaluate([backendRole, deny], 'ssm:GetParameter', PARAMETER);
    expect(result.decision).toBe('explicitDeny');
    expect(result.matched.map((m) => m.sourcePolicyId)).toEqual(['deny-secrets']);
  });

  test('NotAction and NotResource invert the match', () => {
    const policy: PolicySource = {
      id: 'all-but-iam',
      type: 'aws-managed',
      document: JSON.stringify({ Statement: [{ Effect: 'Allow', NotAction: 'iam:*', NotResource: 'arn:aws:ssm:*:*:parameter/secret/*' }] }),
    };
    expect(evaluate([policy], 'ssm:GetParameter', PARAMETER).decision).toBe('allowed');
    expect(evaluate([policy], 'iam:CreateUser', '*').decision).toBe('implicitDeny');
    expect(evaluate([policy], 'ssm:GetParameter', 'arn:aws:ssm:us-east-1:1:parameter/secret/x').decision).toBe('implicitDeny');
  });

  test('a statement with a Condition is not applied and its keys are reported as missing context', () => {
    const policy: PolicySource = {
      id: 'only-from-vpc',
      type: 'role',
      document: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'ssm:GetParameter', Resource: '*', Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-1' } } }] }),
    };
    expect(evaluate([policy], 'ssm:GetParameter', PARAMETER)).toEqual({ decision: 'implicitDeny', matched: [], missingContextValues: ['aws:SourceVpc'] });
  });

  test('? matches exactly one character and * crosses ARN separators', () => {
    expect(wildcard('arn:aws:ssm:*:parameter/linkbox/db-????????', 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/db-endpoint', false)).toBe(true);
    expect(wildcard('arn:aws:ssm:*:parameter/linkbox/db-????', 'arn:aws:ssm:us-east-1:123456789012:parameter/linkbox/db-endpoint', false)).toBe(false);
  });

  test('a policy document that is not JSON is rejected rather than read as allowing nothing', () => {
    expect(() => statementsOf('{"Statement": [')).toThrow(SyntaxError);
  });
});
