import type { CheckId } from '@/lib/checks/types';

// The operator's words for each check id, and which panel of the environment page shows it.

export const CHECK_TITLES: Record<CheckId, string> = {
  'ssm.parameters': 'Parameters exist and are readable',
  'ssm.password-type': 'Password is a SecureString',
  'ssm.password-age': 'Password age',
  'rds.status': 'Instance status',
  'rds.endpoint-match': 'Endpoint matches SSM',
  'rds.username-match': 'Master username matches SSM',
  'rds.private': 'Not publicly accessible',
  'sg.backend-ingress': 'Backends admitted to the database port',
  'sg.no-public-ingress': 'No public ingress on the database port',
  'net.instance-security-groups': 'Each backend admitted by the database\'s security groups',
  'net.network-acls': 'Network ACLs pass each backend\'s traffic both ways',
  'net.tcp': 'TCP connection to the endpoint',
  'db.login': 'Login with the SSM credentials',
  'db.backend-credentials': 'Backends send the SSM credentials unchanged',
  'containers.running': 'Instances and containers running',
  'containers.fresh-credentials': 'Containers hold the current password',
  'containers.health': 'Backends answer /health',
  'local.database-url': 'DATABASE_URL in use',
};

export const SECTIONS = ['SSM', 'RDS', 'Network', 'Database', 'Containers'] as const;
export type Section = (typeof SECTIONS)[number];

export function sectionOf(id: CheckId): Section {
  if (id.startsWith('ssm.')) return 'SSM';
  if (id.startsWith('rds.')) return 'RDS';
  if (id.startsWith('sg.') || id.startsWith('net.')) return 'Network';
  if (id.startsWith('containers.')) return 'Containers';
  return 'Database';
}

export function checkTitle(id: CheckId): string {
  return CHECK_TITLES[id] ?? id;
}
