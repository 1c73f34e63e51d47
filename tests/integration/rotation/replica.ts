// A console replica as a real OS process, for the tests that kill one with SIGKILL or run two at
// once. It uses the same lib/ code the Next server runs, configured only by environment variables
// (LINKBOX_CONFIG, AUDIT_SQLITE_PATH or AUDIT_DATABASE_URL), and talks JSON lines on stdout.
//   start:  waits for "go" on stdin, then starts a rotation of ENVIRONMENT as an operator
//   resume: what instrumentation.ts does at start-up
//   serve:  a running console: the start-up sweep, then one every lease period, until "stop" on
//           stdin; "show N" prints the rotation as this replica sees it (event "view-N")
// ROTATION_LOGIN_TIMEOUT_MS shortens how long a login may keep failing (a test that keeps it failing).
// Every mode stays until its rotation work is done, then exits 0.
import { createInterface } from 'node:readline';
import { getStore } from '@/lib/store';
import { getRotation, resumeUnfinishedRotations, rotationWorkSettled, startRotation } from '@/lib/rotation';
import { setRotationTimingsForTests } from '@/lib/rotation/workflow';

const mode = process.argv[2];
const environment = process.env.ENVIRONMENT ?? 'production';
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

async function main(): Promise<void> {
  if (process.env.ROTATION_LOGIN_TIMEOUT_MS) setRotationTimingsForTests({ loginTimeoutMs: Number(process.env.ROTATION_LOGIN_TIMEOUT_MS) });
  await getStore();
  if (mode === 'start') {
    say({ event: 'ready', pid: process.pid });
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) if (line.trim() === 'go') break;
    const result = await startRotation({ id: process.env.CALLER ?? 'operator@linkbox.lab', role: 'operator', via: 'session' }, environment, {
      confirmEnvironment: environment,
    });
    say({ event: 'started', result });
  } else if (mode === 'resume') {
    await resumeUnfinishedRotations();
    say({ event: 'resuming' });
  } else if (mode === 'serve') {
    await resumeUnfinishedRotations();
    say({ event: 'serving', pid: process.pid });
    for await (const line of createInterface({ input: process.stdin })) {
      const [word, n] = line.trim().split(' ');
      if (word === 'stop') break;
      if (word === 'show') say({ event: `view-${n}`, view: await getRotation({ id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' }, environment) });
    }
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await rotationWorkSettled(environment);
  say({ event: 'settled' });
  process.exit(0);
}

main().catch((err: unknown) => {
  say({ event: 'error', message: (err as Error).message });
  process.exit(1);
});
