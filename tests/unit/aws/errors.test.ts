import { describe, expect, it } from 'vitest';
import { describeAwsError } from '@/lib/aws/errors';
import { redact } from '@/lib/redact';

function sdkError(name: string, message: string, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: 400 }, ...extra });
}

describe('describeAwsError', () => {
  it('reads throttling under every name AWS uses', () => {
    for (const name of ['ThrottlingException', 'Throttling', 'RequestLimitExceeded', 'TooManyRequestsException']) {
      expect(describeAwsError(sdkError(name, 'Rate exceeded')).kind).toBe('throttled');
    }
  });

  it('reads AccessDenied and UnauthorizedOperation as denied', () => {
    expect(describeAwsError(sdkError('AccessDeniedException', 'User: arn:aws:iam::1:user/x is not authorized to perform: ssm:GetParameters')).kind).toBe('denied');
    expect(describeAwsError(sdkError('UnauthorizedOperation', 'You are not authorized')).kind).toBe('denied');
    expect(describeAwsError(sdkError('AccessDenied', 'nope')).kind).toBe('denied');
  });

  it('tells a KMS refusal inside SSM apart from an SSM denial', () => {
    const kms = sdkError('AccessDeniedException', 'User is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:1:key/abc');
    expect(describeAwsError(kms).kind).toBe('kms-denied');
    expect(describeAwsError(sdkError('InvalidKeyId', 'key disabled')).kind).toBe('kms-denied');
  });

  it('reads the SDK request timeout and an abort as timeout', () => {
    expect(describeAwsError(sdkError('TimeoutError', 'Request did not complete within 4000 ms')).kind).toBe('timeout');
    expect(describeAwsError(Object.assign(new Error('This operation was aborted'), { name: 'AbortError' })).kind).toBe('timeout');
  });

  it('reads missing resources as not-found', () => {
    expect(describeAwsError(sdkError('DBInstanceNotFoundFault', 'DBInstance linkbox-db not found.')).kind).toBe('not-found');
    expect(describeAwsError(sdkError('InvalidGroup.NotFound', 'The security group does not exist')).kind).toBe('not-found');
  });

  it('reads an unreachable endpoint as network', () => {
    const err = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), { code: 'ECONNREFUSED' });
    expect(describeAwsError(err).kind).toBe('network');
  });

  it('is unknown for anything else, and accepts non-Error values', () => {
    expect(describeAwsError(sdkError('ValidationException', 'bad')).kind).toBe('unknown');
    expect(describeAwsError('boom')).toEqual({ kind: 'unknown', message: 'boom' });
    expect(describeAwsError(undefined).kind).toBe('unknown');
  });

  it('names the action and never repeats a value it is told to redact', () => {
    const d = describeAwsError(sdkError('ValidationException', "Value 'hunter2-pass' at 'value' failed"), { action: 'PutParameter', redact: ['hunter2-pass'] });
    expect(d.message).toContain('PutParameter');
    expect(d.message).not.toContain('hunter2-pass');
  });

  it('masks the password of any URL in a message', () => {
    expect(redact('cannot open postgresql://linkbox:s3cr3t@db:5432/linkbox')).toBe('cannot open postgresql://linkbox:****@db:5432/linkbox');
  });

  it('masks password fields and assignments a backend might print', () => {
    expect(redact('{"user":"linkbox","password":"s3cr3t"}')).toBe('{"user":"linkbox","password":"****"}');
    expect(redact('PGPASSWORD=s3cr3t psql')).toBe('PGPASSWORD=**** psql');
    expect(redact('password authentication failed for user "linkbox"')).toBe('password authentication failed for user "linkbox"');
  });
});
