// The lab's settings from the environment, shared by `npm run lab` and `npm start`.
import { resolve } from 'node:path';
import { DEFAULT_LAB_OPTIONS } from './index';
import type { LabOptions } from './contract';

export class LabSettingError extends Error {}

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LabSettingError(`${name}=${raw} is not valid: use a whole number from ${min} to ${max}`);
  }
  return value;
}

export function labOptionsFromEnv(log: (line: string) => void): LabOptions {
  return {
    ...DEFAULT_LAB_OPTIONS,
    gatewayPort: intFromEnv('LAB_GATEWAY_PORT', DEFAULT_LAB_OPTIONS.gatewayPort, 0, 65535),
    localBackendPort: intFromEnv('LAB_LOCAL_BACKEND_PORT', DEFAULT_LAB_OPTIONS.localBackendPort, 0, 65535),
    resetSeconds: intFromEnv('LAB_RESET_SECONDS', DEFAULT_LAB_OPTIONS.resetSeconds, 0, 3600),
    dataDir: resolve(process.env.LAB_DATA_DIR || DEFAULT_LAB_OPTIONS.dataDir),
    log,
  };
}
