// A console replica that runs only the watcher, for the tests that run two of them on one store.
// Configured like the console by LINKBOX_CONFIG, AUDIT_DATABASE_URL / AUDIT_SQLITE_PATH and
// WATCH_INTERVAL_SECONDS; it prints the watcher's log lines and runs until it is killed.
import { getStore } from '@/lib/store';
import { startWatcher } from '@/lib/watcher';

async function main(): Promise<void> {
  await getStore();
  startWatcher();
  // The watcher's timers do not hold the process open (as in the console, where the server does).
  setInterval(() => {}, 60_000);
}

main().catch((err: unknown) => {
  console.error(`watcher process failed: ${(err as Error).message}`);
  process.exit(1);
});
