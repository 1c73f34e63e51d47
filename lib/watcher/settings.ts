import type { ConsoleConfig } from '@/lib/config/schema';

// The watcher's interval: the config's `watch.intervalSeconds`, or WATCH_INTERVAL_SECONDS when set
// (a deployment tunes it without editing the file; tests keep it short). 0 turns the watcher off.

export class WatchIntervalError extends Error {
  constructor(value: string) {
    super(`WATCH_INTERVAL_SECONDS=${JSON.stringify(value.slice(0, 20))} is not valid: use a number of seconds from 1 to 3600, or 0 to turn the watcher off`);
    this.name = 'WatchIntervalError';
  }
}

/** Milliseconds between looks; 0 when WATCH_INTERVAL_SECONDS=0 turned the watcher off. */
export function watchIntervalMs(config: ConsoleConfig, override = process.env.WATCH_INTERVAL_SECONDS): number {
  if (override === undefined || override.trim() === '') return config.watch.intervalSeconds * 1000;
  const seconds = Number(override);
  if (!Number.isFinite(seconds) || (seconds !== 0 && (seconds < 1 || seconds > 3600))) throw new WatchIntervalError(override);
  return Math.round(seconds * 1000);
}
