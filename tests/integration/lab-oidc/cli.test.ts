import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LabState } from '@/infra/lab/contract';
import { eventually } from '../support/lab';

// `npm run lab` with its identity provider, as an operator meets it: it prints where the IdP is and
// every account with its password (never the client secret), and a lab killed outright leaves
// neither the IdP nor anything else behind.

const dataDir = resolve('.lab', `test-oidc-cli-${Math.random().toString(36).slice(2, 10)}`);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm run lab with the identity provider', () => {
  it('prints the IdP and the accounts with their passwords, and a SIGKILL leaves nothing listening or running', async () => {
    // One process (tsx as a loader, not its CLI wrapper), so the signal reaches the lab itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/lab/main.ts'], {
      env: {
        ...process.env,
        LAB_GATEWAY_PORT: '0',
        LAB_LOCAL_BACKEND_PORT: '0',
        LAB_DATA_DIR: dataDir,
        LAB_VIEWER_PASSWORD: 'viewer-cli-test-password',
        LAB_OPERATOR_PASSWORD: '',
        LAB_ADMIN_PASSWORD: '',
        LAB_UNVERIFIED_PASSWORD: '',
        NEXTAUTH_URL: 'http://127.0.0.1:3456',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    try {
      await eventually(async () => (output.includes('Press Ctrl-C to stop.') ? true : undefined), 'the lab to be ready', 120_000);

      const gateway = /AWS endpoint\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(output)![1]!;
      const state = (await (await fetch(`${gateway}/_lab/state`)).json()) as LabState;
      // The gateway moved off 4566, so the IdP is on a port of the kernel's choosing, not 4567.
      expect(state.oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(state.oidc.issuer).not.toBe('http://127.0.0.1:4567');
      expect(output).toContain(`OIDC issuer      ${state.oidc.issuer}`);
      expect(state.oidc.redirectUris).toEqual(['http://127.0.0.1:3456/api/auth/callback/oidc']);

      expect(output).toMatch(/viewer@linkbox\.lab\s+viewer-cli-test-password\s+\(viewer, groups linkbox-viewers; LAB_VIEWER_PASSWORD\)/);
      for (const email of ['operator@linkbox.lab', 'admin@linkbox.lab', 'unverified@linkbox.lab']) {
        expect(output).toMatch(new RegExp(`${email.replace(/\./g, '\\.')}\\s+[A-Za-z0-9_-]{16}\\s+\\(`));
      }
      expect(output).toMatch(/unverified@linkbox\.lab\s+\S+\s+\(email NOT verified/);
      expect(output).not.toContain(state.oidc.clientSecret);

      const motoPid = Number(readFileSync(join(dataDir, 'moto.pid'), 'utf8'));
      const postgresPid = Number(readFileSync(join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
      child.kill('SIGKILL');
      await exited;
      await expect(fetch(state.oidc.discoveryUrl, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
      await eventually(async () => (alive(motoPid) || alive(postgresPid) ? undefined : true), 'the watchdog to stop moto and PostgreSQL', 20_000);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
