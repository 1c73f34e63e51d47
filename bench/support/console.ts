import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { signInThroughLabIdp } from '../../infra/lab/oidc/sign-in';
import { DIST_DIR, ensureBuild, NEXT_BIN } from './build';
import type { BenchLab } from './lab';
import { killChild, onShutdown, track } from './shutdown';

// The console as people reach it: the benchmarks' production build, `next start` on the port the
// benchmark's lab reserved for it, signing people in through the lab's identity provider, with an
// API token whose value never leaves this process.

export interface BenchConsole {
  url: string;
  /** `Authorization` header value for the JSON API (a viewer token). */
  bearer: string;
  /** Signs in a lab account through the lab's identity provider, as a browser does; returns the Cookie header. */
  signIn(role: 'viewer' | 'operator'): Promise<string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => done(port));
    });
  });
}

export async function startConsole(lab: BenchLab): Promise<BenchConsole> {
  await ensureBuild((child) => track(child, true));
  const { port, passwords } = lab.consoleSeat;
  const url = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('base64url');
  const log = createWriteStream(join(lab.dataDir, 'console.log'), { flags: 'a' });
  const child = track(
    spawn(process.execPath, [NEXT_BIN, 'start', '-H', '127.0.0.1', '-p', String(port)], {
      env: {
        ...process.env,
        NODE_ENV: 'production',
        NEXT_DIST_DIR: DIST_DIR,
        LINKBOX_CONFIG: lab.configPath,
        NEXTAUTH_URL: url,
        NEXTAUTH_SECRET: randomBytes(32).toString('base64url'),
        AUDIT_SQLITE_PATH: join(lab.dataDir, 'console.sqlite'),
        OIDC_ISSUER: lab.oidc.issuer,
        OIDC_CLIENT_ID: lab.oidc.clientId,
        OIDC_CLIENT_SECRET: lab.oidc.clientSecret,
        OPS_API_TOKENS: `bench:${token}`,
        // The watcher would read every environment at start-up, before the pages measured here do;
        // its own calls are bench/watcher.ts's.
        WATCH_INTERVAL_SECONDS: '0',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so stopping it also stops whatever next start forks.
      detached: true,
    }),
    true,
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    killChild(child, 'SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    killChild(child, 'SIGKILL');
  };
  onShutdown('the console', stop);

  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}; see ${join(lab.dataDir, 'console.log')}`);
    try {
      const res = await fetch(`${url}/signin`, { redirect: 'manual', signal: AbortSignal.timeout(3000) });
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the console did not answer at ${url}/signin within 90 s`);
    await new Promise((r) => setTimeout(r, 300));
  }

  return {
    url,
    bearer: `Bearer ${token}`,
    stop,
    signIn: (role) => signInThroughLabIdp(url, `${role}@linkbox.lab`, passwords[role]),
  };
}
