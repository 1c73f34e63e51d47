import type { CheckResult } from '@/lib/checks/types';

// "SecureString, version N, changed D days ago": what the page may say about the password. It is
// built from the SSM checks' evidence (metadata only); the value itself never reaches this code.

export interface PasswordFacts {
  type: string | null;
  version: number | null;
  changedDaysAgo: number | null;
}

function find(checks: CheckResult[], ids: string[], pattern: RegExp): string | number | null {
  for (const check of checks) {
    if (!ids.includes(check.id)) continue;
    for (const [key, value] of Object.entries(check.evidence)) {
      if (pattern.test(key) && (typeof value === 'string' || typeof value === 'number')) return value;
    }
  }
  return null;
}

export function passwordFacts(checks: CheckResult[], now: Date = new Date()): PasswordFacts {
  const ids = ['ssm.password-type', 'ssm.password-age', 'ssm.parameters'];
  const type = find(checks, ['ssm.password-type', 'ssm.password-age'], /^(password)?type$/i);
  const versionValue = find(checks, ids, /^(password)?version$/i);
  const modified = find(checks, ids, /^(password)?(lastModified(Date)?|changedAt|modified)$/i);
  const ageDays = find(checks, ids, /^(password)?age(InDays|Days)?$/i);

  const version = typeof versionValue === 'number' ? versionValue : versionValue !== null && /^\d+$/.test(versionValue) ? Number(versionValue) : null;
  let changedDaysAgo: number | null = null;
  if (typeof modified === 'string' && !Number.isNaN(Date.parse(modified))) {
    changedDaysAgo = Math.max(0, Math.floor((now.getTime() - Date.parse(modified)) / 86_400_000));
  } else if (typeof ageDays === 'number') {
    changedDaysAgo = Math.floor(ageDays);
  }
  return { type: typeof type === 'string' ? type : null, version, changedDaysAgo };
}

export function describePassword(facts: PasswordFacts): string {
  if (!facts.type && facts.version === null && facts.changedDaysAgo === null) return 'metadata not available';
  const parts = [facts.type ?? 'type unknown', facts.version !== null ? `version ${facts.version}` : 'version unknown'];
  if (facts.changedDaysAgo !== null) {
    parts.push(facts.changedDaysAgo === 0 ? 'changed today' : `changed ${facts.changedDaysAgo} day${facts.changedDaysAgo === 1 ? '' : 's'} ago`);
  } else {
    parts.push('change date unknown');
  }
  return parts.join(', ');
}
