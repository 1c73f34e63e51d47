import { join } from 'node:path';
import type { Caller } from '../../lib/roles';
import type { BenchLab } from './lab';

// The console's lib/ code run inside the benchmark process, pointed at the benchmark's lab with a
// store of its own: the same code the Next server runs, without the HTTP in between. Benchmarks
// that use it run under `node --conditions=react-server` (bench/run.ts does), where 'server-only'
// is the empty module React's server build gives it.

export const viewer: Caller = { id: 'viewer@linkbox.lab', role: 'viewer', via: 'session' };
export const operator: Caller = { id: 'operator@linkbox.lab', role: 'operator', via: 'session' };

export function pointConsoleAt(lab: BenchLab): void {
  process.env.LINKBOX_CONFIG = lab.configPath;
  process.env.AUDIT_SQLITE_PATH = join(lab.dataDir, 'console.sqlite');
  delete process.env.AUDIT_DATABASE_URL;
}
