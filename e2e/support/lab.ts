import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, type Page } from '@playwright/test';

// The lab as an operator reaches it: its state endpoint, and the AWS CLI v2 pointed at its gateway.
// Faults are caused the way they happen in life (aws ec2 revoke-security-group-ingress), not by switches.

const run = promisify(execFile);

export function labUrl(): string {
  const url = process.env.E2E_LAB_URL;
  if (!url) throw new Error('E2E_LAB_URL is not set: run the specs through playwright.config.ts, which starts the lab');
  return url;
}

export async function labRegion(): Promise<string> {
  const res = await fetch(`${labUrl()}/_lab/state`);
  if (!res.ok) throw new Error(`the lab state endpoint answered ${res.status}`);
  return ((await res.json()) as { region: string }).region;
}

/** `/usr/bin/aws` (v2; an old v1 is first on PATH) against the lab, JSON out. */
export async function aws(...args: string[]): Promise<unknown> {
  const region = await labRegion();
  const { stdout } = await run('/usr/bin/aws', ['--endpoint-url', labUrl(), '--region', region, '--output', 'json', ...args], {
    env: { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_PAGER: '' },
  });
  return stdout.trim() ? JSON.parse(stdout) : null;
}

interface IpPermission {
  IpProtocol: string;
  FromPort?: number;
  ToPort?: number;
  UserIdGroupPairs?: Array<{ GroupId?: string }>;
}

interface SecurityGroup {
  GroupId: string;
  IpPermissions: IpPermission[];
}

/** The DB security group found the way the seed's runbook finds it. */
export async function databaseSecurityGroup(): Promise<SecurityGroup> {
  const out = (await aws('ec2', 'describe-security-groups', '--filters', 'Name=tag:Name,Values=*linkbox-db-sg*')) as { SecurityGroups: SecurityGroup[] };
  const group = out.SecurityGroups[0];
  if (!group) throw new Error('the lab has no security group tagged *linkbox-db-sg*');
  return group;
}

export interface RevokedRule {
  groupId: string;
  permissions: IpPermission[];
}

/** Removes the rule that admits the backend group to the database port; returns what to restore. */
export async function revokeBackendIngress(): Promise<RevokedRule> {
  const group = await databaseSecurityGroup();
  const permissions = group.IpPermissions.filter((p) => (p.UserIdGroupPairs ?? []).length > 0).map((p) => ({
    IpProtocol: p.IpProtocol,
    FromPort: p.FromPort,
    ToPort: p.ToPort,
    UserIdGroupPairs: (p.UserIdGroupPairs ?? []).map((pair) => ({ GroupId: pair.GroupId })),
  }));
  if (permissions.length === 0) throw new Error(`${group.GroupId} admits no security group: the lab is not in its seeded state`);
  await aws('ec2', 'revoke-security-group-ingress', '--group-id', group.GroupId, '--ip-permissions', JSON.stringify(permissions));
  return { groupId: group.GroupId, permissions };
}

export async function restoreIngress(rule: RevokedRule): Promise<void> {
  await aws('ec2', 'authorize-security-group-ingress', '--group-id', rule.groupId, '--ip-permissions', JSON.stringify(rule.permissions));
}

/**
 * AWS answering one action slowly, which no operator causes: the lab's latency switch stands in for
 * it. Returns the rule's id for `fast`.
 */
export async function slowAws(service: string, action: string, ms: number): Promise<string> {
  const res = await fetch(`${labUrl()}/_lab/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ kind: 'latency', service, action, ms }) });
  if (res.status !== 201) throw new Error(`the lab refused the latency rule: HTTP ${res.status}`);
  return ((await res.json()) as { id: string }).id;
}

export async function fast(ruleId: string): Promise<void> {
  await fetch(`${labUrl()}/_lab/faults/${encodeURIComponent(ruleId)}`, { method: 'DELETE' });
}

/**
 * Fresh diagnoses of production until one is healthy, leaving the lab and the console's cache
 * healthy for the next spec. The polled value names every failing step, so a miss says what stayed broken.
 */
export async function untilDiagnosedHealthy(page: Page): Promise<void> {
  await expect
    .poll(
      async () => {
        const d = (await (await page.request.get('/api/v1/environments/production/diagnosis?fresh=1')).json()) as {
          verdict: string;
          steps: Array<{ id: string; status: string; summary: string }>;
        };
        const failing = d.steps.filter((s) => s.status === 'fail' || s.status === 'error').map((s) => `${s.id} ${s.status}: ${s.summary}`);
        return [d.verdict, ...failing].join('\n');
      },
      { timeout: 60_000 },
    )
    .toBe('healthy');
}
