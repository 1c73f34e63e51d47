import { spawn } from 'node:child_process';

// A lab whose process is killed outright (SIGKILL, a test runner tearing down its worker) cannot
// stop what it spawned. The watchdog is a tiny separate process holding the read end of a pipe
// from the lab: when the lab dies the pipe closes, and the watchdog stops moto and PostgreSQL.
// It only signals pids whose command line still carries the mark it was given (pids are reused).

const SCRIPT = `
const fs = require('fs');
const watched = [];
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  let i;
  while ((i = buffer.indexOf('\\n')) >= 0) {
    const line = buffer.slice(0, i);
    buffer = buffer.slice(i + 1);
    if (line === 'stop') process.exit(0);
    const [pid, signal, ...mark] = line.split(' ');
    watched.push({ pid: Number(pid), signal, mark: mark.join(' ') });
  }
});
const still = (w) => {
  try {
    const args = ' ' + fs.readFileSync('/proc/' + w.pid + '/cmdline', 'utf8').split('\\0').join(' ') + ' ';
    return args.includes(' ' + w.mark + ' ');
  } catch { return false; }
};
process.stdin.on('end', () => {
  for (const w of watched) if (still(w)) try { process.kill(w.pid, w.signal); } catch {}
  setTimeout(() => {
    for (const w of watched) if (still(w)) try { process.kill(w.pid, 'SIGKILL'); } catch {}
    process.exit(0);
  }, 5000);
});
`;

export interface Watchdog {
  /** Stop `pid` with `signal` if the lab dies, provided its arguments still include `mark` (whole arguments). */
  watch(pid: number, signal: NodeJS.Signals, mark: string): void;
  /** The lab stopped its processes itself; the watchdog leaves. */
  stop(): void;
}

export function startWatchdog(): Watchdog {
  const child = spawn(process.execPath, ['-e', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  child.on('error', () => undefined);
  child.stdin!.on('error', () => undefined);
  // Neither the process nor its pipe may keep the lab's process alive.
  child.unref();
  (child.stdin as unknown as { unref?: () => void }).unref?.();
  return {
    watch(pid, signal, mark) {
      if (!child.stdin!.destroyed && !mark.includes('\n')) child.stdin!.write(`${pid} ${signal} ${mark}\n`);
    },
    stop() {
      if (!child.stdin!.destroyed) child.stdin!.end('stop\n');
    },
  };
}
