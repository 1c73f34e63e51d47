// `npm start`: the lab and the console together, in the foreground. Ctrl-C or SIGTERM stops both.
// The console signs people in through the lab's identity provider, exactly as it signs them in
// through a company's IdP in production. Its own output also goes to <LAB_DATA_DIR>/console.log, so
// tests can scan it for leaks.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { labConsoleRole } from '../infra/aws/lab-console-role';
import { labOptionsFromEnv, LabSettingError } from '../infra/lab/env';
import { startLab } from '../infra/lab/index';
import type { Lab } from '../infra/lab/contract';

const port = Number(process.env.PORT ?? 3000);
const distDir = process.env.NEXT_DIST_DIR || '.next';
const dataDir = resolve(process.env.LAB_DATA_DIR || '.lab');

async function assertPortFree(p: number, variable: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    const probe = createServer();
    probe.once('error', () => fail(new Error(`port ${p} is in use (${variable}); stop what holds it or choose another port`)));
    probe.listen(p, '127.0.0.1', () => probe.close(() => ok()));
  });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((ok, fail) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    child.on('exit', (code) => (code === 0 ? ok() : fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}`))));
  });
}

async function waitForConsole(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the console exited with ${child.exitCode} while starting`);
    try {
      const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2000) });
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`the console did not answer at ${url} within 60 s`);
}

async function main(): Promise<void> {
  const started = Date.now();
  await assertPortFree(port, 'PORT');
  const nextBin = join('node_modules', 'next', 'dist', 'bin', 'next');
  if (!existsSync(join(distDir, 'BUILD_ID'))) {
    console.log(`No production build in ${distDir}: building the console first (next build)...`);
    await run(process.execPath, [nextBin, 'build'], process.env);
  }

  // What stop() has to end; filled in as things start, so a signal at any moment stops what runs.
  const running: { lab?: Lab; console?: ChildProcess } = {};
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    const child = running.console;
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
    }
    await running.lab?.stop().catch((err) => console.error(`lab stop: ${(err as Error).message}`));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const consoleUrl = `http://127.0.0.1:${port}`;
  // The identity provider sends people back to NEXTAUTH_URL (default: the console's own address).
  process.env.NEXTAUTH_URL ??= consoleUrl;
  let lab: Lab;
  let labOptions: ReturnType<typeof labOptionsFromEnv>;
  try {
    // The console runs as its deployment's least-privilege role (infra/aws), enforced by the lab.
    labOptions = labOptionsFromEnv((line) => console.log(`[lab] ${line}`));
    lab = await startLab({ ...labOptions, consoleRole: labConsoleRole() });
  } catch (err) {
    console.error(`The lab did not start: ${(err as Error).message}`);
    process.exit(err instanceof LabSettingError ? 2 : 1);
  }
  running.lab = lab;

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LINKBOX_CONFIG: lab.configPath,
    NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET ?? randomBytes(32).toString('base64url'),
    AUDIT_SQLITE_PATH: process.env.AUDIT_SQLITE_PATH ?? join(dataDir, 'console.sqlite'),
    OIDC_ISSUER: lab.oidc.issuer,
    OIDC_CLIENT_ID: lab.oidc.clientId,
    OIDC_CLIENT_SECRET: lab.oidc.clientSecret,
    NODE_ENV: 'production',
  };
  // The accounts' passwords are the identity provider's business; the console never sees them.
  for (const account of lab.oidc.accounts) delete env[account.passwordVariable];

  const log = createWriteStream(join(dataDir, 'console.log'), { flags: 'a' });
  const consoleProcess = spawn(process.execPath, [nextBin, 'start', '-H', '127.0.0.1', '-p', String(port)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.console = consoleProcess;
  consoleProcess.stdout!.on('data', (chunk: Buffer) => { process.stdout.write(chunk); log.write(chunk); });
  consoleProcess.stderr!.on('data', (chunk: Buffer) => { process.stderr.write(chunk); log.write(chunk); });
  consoleProcess.on('exit', (code) => {
    if (!stopping) {
      console.error(`The console exited (${code}); stopping the lab.`);
      void stop(code || 1);
    }
  });

  try {
    await waitForConsole(`${consoleUrl}/signin`, consoleProcess);
  } catch (err) {
    console.error((err as Error).message);
    await stop(1);
    return;
  }

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log('');
  console.log(`LinkBox Ops Console is ready (${seconds} s): open ${consoleUrl}`);
  console.log(`  lab AWS endpoint  ${lab.awsEndpoint}   (aws --endpoint-url ${lab.awsEndpoint} --region ${lab.region} ...)`);
  console.log(`  database tunnel   ${lab.db.host}:${lab.db.port}`);
  console.log(`  identity provider ${lab.oidc.issuer}   (the lab's OpenID Connect provider; "Sign in with single sign-on")`);
  console.log(`  sign-in accounts (the identity provider's form; set LAB_*_PASSWORD to choose):`);
  const width = Math.max(...lab.oidc.accounts.map((a) => a.email.length));
  for (const account of lab.oidc.accounts) {
    const password = labOptions.oidc.passwords[account.passwordVariable as keyof typeof labOptions.oidc.passwords];
    const note = account.emailVerified ? account.role : 'email not verified: the console refuses it';
    console.log(`    ${account.email.padEnd(width)}  ${password}   (${note})`);
  }
  console.log('Press Ctrl-C to stop the console and the lab.');
}

main().catch((err) => {
  console.error((err as Error).message);
  process.exit(1);
});
