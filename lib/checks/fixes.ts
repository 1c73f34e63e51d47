import type { AwsEnvironmentConfig } from '@/lib/config/schema';

// Builds the exact CLI commands a fix shows (status checks and runbook steps alike), with this
// environment's region (and the lab's endpoint) filled in, so an operator can paste them. Never a
// secret: passwords are "$NEW_PASSWORD".

export function aws(env: AwsEnvironmentConfig, ...args: string[]): string {
  const endpoint = env.endpoint ? ` --endpoint-url ${sh(env.endpoint)}` : '';
  return `aws ${args.join(' ')} --region ${env.region}${endpoint}`;
}

/** The copyable `aws ssm send-command` that runs these lines on these instances. */
export function sendCommand(env: AwsEnvironmentConfig, instanceIds: string[], lines: string[]): string {
  return aws(env, 'ssm send-command', '--instance-ids', ...instanceIds, '--document-name AWS-RunShellScript --parameters', sh(JSON.stringify({ commands: lines })));
}

/** Quotes a value for a POSIX shell unless it is plainly safe. */
export function sh(value: string): string {
  return /^[A-Za-z0-9_./:@=,+-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Where the console rotates the password (sets RDS and SSM together, then restarts the backends). */
export function rotationPage(env: { name: string }): string {
  return `/environments/${env.name}/rotate`;
}

export function selectorText(sel: { ids: string[] } | { tags: Record<string, string> }): string {
  return 'ids' in sel ? sel.ids.join(', ') : Object.entries(sel.tags).map(([k, v]) => `tag ${k}=${v}`).join(' and ');
}

export function describeGroupsCommand(env: AwsEnvironmentConfig, sel: { ids: string[] } | { tags: Record<string, string> }): string {
  if ('ids' in sel) return aws(env, 'ec2 describe-security-groups', '--group-ids', ...sel.ids.map(sh));
  const filters = Object.entries(sel.tags).map(([k, v]) => sh(`Name=tag:${k},Values=${v}`));
  return aws(env, 'ec2 describe-security-groups', '--filters', ...filters);
}
