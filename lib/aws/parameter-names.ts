import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// The names of the parameters start_application.sh reads and of the rotation's pending slot. Plain
// functions without 'server-only', so the catalogue of calls (and the IAM policy built from it in
// infra/aws) names exactly the parameters the code reads and writes.

export const LINKBOX_PARAMETERS = ['db-endpoint', 'db-username', 'db-password', 'db-name'] as const;
export type LinkboxParameterKey = (typeof LINKBOX_PARAMETERS)[number];

export function parameterName(env: Pick<AwsEnvironmentConfig, 'parameterPrefix'>, key: LinkboxParameterKey): string {
  return `${env.parameterPrefix}/${key}`;
}

/** Where a rotation keeps the new password until it is promoted: the write-ahead record (DESIGN.md "Rotation"). */
export function pendingPasswordName(env: Pick<AwsEnvironmentConfig, 'parameterPrefix'>): string {
  return `${env.parameterPrefix}/db-password-pending`;
}
