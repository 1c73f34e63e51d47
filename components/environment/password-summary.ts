import type { PasswordFacts } from '@/lib/checks/types';

// "SecureString, version N, changed D days ago": what the page may say about the password, from the
// status's typed facts (metadata only; the value itself never reaches this code).

export function describePassword(facts: PasswordFacts | null, now: Date = new Date()): string {
  if (!facts) return 'metadata not available';
  const parts = [facts.type ?? 'type unknown', facts.version !== null ? `version ${facts.version}` : 'version unknown'];
  const changed = facts.lastModified ? Date.parse(facts.lastModified) : NaN;
  if (Number.isNaN(changed)) {
    parts.push('change date unknown');
  } else {
    const days = Math.max(0, Math.floor((now.getTime() - changed) / 86_400_000));
    parts.push(days === 0 ? 'changed today' : `changed ${days} day${days === 1 ? '' : 's'} ago`);
  }
  return parts.join(', ');
}
