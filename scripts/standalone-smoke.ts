// `npm run test:standalone`: the container image's entry point, run on this machine's Node since no
// base image can be pulled here. It lays the files out as the Dockerfile does (the standalone server,
// the static files, docker-entrypoint.sh), makes them read-only (and, as root, runs them as `nobody`,
// as the image runs as a non-root user), starts them against a lab with the environments file in
// LINKBOX_CONFIG_JSON as ECS passes it, and checks /api/health, a sign-in through the lab's IdP and a status.
// Needs a production build (`npm run build`). Everything it starts stops by itself.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { labConsoleRole } from '../infra/aws/lab-console-role';
import { startLab, type Lab } from '../infra/lab/index';
import { signInThroughLabIdp } from '../infra/lab/oidc/sign-in';

const distDir = process.env.NEXT_DIST_DIR || '.next';
const standalone = resolve(distDir, 'standalone');
const NOBODY = 65534;
const results: Array<{ name: string; ok: boolean; detail?: string }> = [];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

/** The image's /app: the standalone server, the static files beside it, the entry point; read-only. */
function layOutImage(root: string): string {
  const app = join(root, 'app');
  cpSync(standalone, app, { recursive: true });
  cpSync(resolve(distDir, 'static'), join(app, distDir, 'static'), { recursive: true });
  cpSync(resolve('infra/aws/image/docker-entrypoint.sh'), join(app, 'docker-entrypoint.sh'));
  chmodSync(join(app, 'docker-entrypoint.sh'), 0o555);
  readOnly(app);
  return app;
}

function readOnly(path: string): void {
  const mode = statSync(path).mode;
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) readOnly(join(path, name));
    chmodSync(path, 0o555);
  } else {
    chmodSync(path, mode & 0o555);
  }
}

async function check(name: string, body: () => Promise<string | void>): Promise<void> {
  try {
    const detail = await body();
    results.push({ name, ok: true, ...(detail ? { detail } : {}) });
  } catch (err) {
    results.push({ name, ok: false, detail: (err as Error).message });
  }
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function waitForHealth(base: string, child: ChildProcess, output: string[]): Promise<Response> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}:\n${output.join('').slice(-2000)}`);
    try {
      const res = await fetch(`${base}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return res;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`/api/health did not answer 200 within 60 s:\n${output.join('').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(standalone, 'server.js'))) throw new Error(`${standalone}/server.js is missing: run "npm run build" first (next.config.js has output: 'standalone')`);
  const root = mkdtempSync(join(tmpdir(), 'linkbox-image-'));
  // The image's user must reach /app (mkdtemp makes the folder private to us).
  chmodSync(root, 0o755);
  const writable = join(root, 'tmp');
  const dataDir = resolve('.lab', `standalone-${randomBytes(3).toString('hex')}`);
  let lab: Lab | undefined;
  let server: ChildProcess | undefined;
  const stop = async () => {
    if (server && server.exitCode === null) {
      server.kill('SIGTERM');
      await new Promise((r) => {
        server!.once('exit', r);
        setTimeout(r, 5000);
      });
    }
    await lab?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    chmodTree(root);
    rmSync(root, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    const app = layOutImage(root);
    mkdirSync(writable, { mode: 0o700 });
    const asNobody = process.getuid?.() === 0;
    if (asNobody) chownSync(writable, NOBODY, NOBODY);

    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const viewerPassword = randomBytes(12).toString('base64url');
    lab = await startLab({
      gatewayPort: 0,
      localBackendPort: 0,
      dataDir,
      resetSeconds: 2,
      syncIntervalMs: 500,
      log: () => {},
      consoleRole: labConsoleRole(),
      oidc: { redirectUris: [`${base}/api/auth/callback/oidc`], passwords: { LAB_VIEWER_PASSWORD: viewerPassword } },
    });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'production',
      HOSTNAME: '127.0.0.1',
      PORT: String(port),
      TMPDIR: writable,
      HOME: writable,
      NEXTAUTH_URL: base,
      NEXTAUTH_SECRET: randomBytes(32).toString('base64url'),
      OIDC_ISSUER: lab.oidc.issuer,
      OIDC_CLIENT_ID: lab.oidc.clientId,
      OIDC_CLIENT_SECRET: lab.oidc.clientSecret,
      LINKBOX_CONFIG_JSON: readFileSync(lab.configPath, 'utf8'),
      AUDIT_SQLITE_PATH: join(writable, 'console.sqlite'),
    };
    const entry = join(app, 'docker-entrypoint.sh');
    // As the image's USER: not root, and unable to write to its own files.
    const [command, ...args] = asNobody ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', entry] : [entry];
    const output: string[] = [];
    server = spawn(command!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (c: Buffer) => output.push(c.toString()));
    server.stderr!.on('data', (c: Buffer) => output.push(c.toString()));

    await check('/api/health answers 200 without a session, and says config and store are usable', async () => {
      const res = await waitForHealth(base, server!, output);
      const body = (await res.json()) as Record<string, string>;
      expect(body.status === 'ok' && body.config === 'ok' && body.store === 'ok', `unexpected body ${JSON.stringify(body)}`);
      return `${JSON.stringify(body)}${asNobody ? ' (as nobody, read-only /app)' : ' (read-only /app)'}`;
    });
    let session = '';
    await check('a lab account signs in through the lab identity provider', async () => {
      session = await signInThroughLabIdp(base, 'viewer@linkbox.lab', viewerPassword);
    });
    await check('a status of production is healthy, under the least-privilege role the lab enforces', async () => {
      expect(session !== '', 'no session');
      const res = await fetch(`${base}/api/v1/environments/production/status?fresh=1`, { headers: { cookie: session }, signal: AbortSignal.timeout(60_000) });
      expect(res.status === 200, `HTTP ${res.status}`);
      const status = (await res.json()) as { overall: string; checks: Array<{ id: string; status: string; summary: string }> };
      const notPassing = status.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id}: ${c.status} ${c.summary}`);
      expect(status.overall === 'healthy', `overall ${status.overall}: ${notPassing.join('; ')}`);
      return `${status.checks.length} checks pass`;
    });
    await check('the server wrote nothing but its tmp', async () => {
      expect(results.every((r) => r.ok), 'the server did not serve');
      const written = output.join('').match(/EACCES|EROFS|read-only file system/gi);
      expect(!written, `the server tried to write outside $TMPDIR: ${written?.join(', ')}`);
    });
  } finally {
    await stop();
  }
}

/** Write bits back, so the laid-out image can be removed. */
function chmodTree(path: string): void {
  if (!existsSync(path)) return;
  const stats = statSync(path);
  chmodSync(path, stats.mode | 0o200);
  if (stats.isDirectory()) for (const name of readdirSync(path)) chmodTree(join(path, name));
}

main()
  .catch((err: unknown) => results.push({ name: 'the standalone server ran', ok: false, detail: (err as Error).message }))
  .finally(() => {
    for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}${r.detail ? ` — ${r.detail}` : ''}`);
    const failed = results.filter((r) => !r.ok).length;
    console.log(`standalone: ${results.length - failed} passed, ${failed} failed`);
    process.exit(failed === 0 && results.length > 0 ? 0 : 1);
  });
