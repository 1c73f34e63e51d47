import 'server-only';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { consoleConfigSchema, type ConsoleConfig, type EnvironmentConfig } from './schema';

// The environments file, from LINKBOX_CONFIG (default ./linkbox.config.json). A bad file stops
// start-up with the field named, never a half-working console. It is read again whenever it changes
// (one stat per call: inode, size and modification time), so a person removed from `roles` loses
// their role at their next request, without a restart. A changed file that does not validate is
// reported once and the last good one stays in force until the file is fixed: an editor's
// half-written save must not take the console down.

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export class UnknownEnvironmentError extends Error {
  constructor(readonly environment: string) {
    super(`no environment named "${environment}"`);
    this.name = 'UnknownEnvironmentError';
  }
}

export function configPath(): string {
  // The path is the operator's, chosen at run time: keep the bundler from tracing the project for it.
  return resolve(/*turbopackIgnore: true*/ process.env.LINKBOX_CONFIG ?? 'linkbox.config.json');
}

export function parseConfig(text: string, source = 'config'): ConsoleConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = consoleConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `  - ${formatPath(issue.path)}: ${issue.message}`);
    throw new ConfigError(`${source} is invalid:\n${lines.join('\n')}`);
  }
  return parsed.data;
}

function formatPath(path: PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(root)';
}

/** What identifies one version of the file on disk; a new inode covers an atomic rename (ConfigMap, `mv`). */
type FileVersion = string;

interface Loaded {
  path: string;
  config: ConsoleConfig;
  /** The version `config` came from; undefined for a config set by a test. */
  version?: FileVersion;
  /** A newer version that did not validate, already reported. */
  rejected?: FileVersion;
}

let loaded: Loaded | undefined;

const MISSING: FileVersion = 'missing';

function fileVersion(path: string): FileVersion {
  try {
    const stat = statSync(/*turbopackIgnore: true*/ path, { bigint: true });
    return `${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  } catch {
    return MISSING;
  }
}

function readConfigFile(path: string, version: FileVersion): string {
  try {
    if (version !== MISSING) return readFileSync(/*turbopackIgnore: true*/ path, 'utf8');
  } catch {
    // reported below
  }
  throw new ConfigError(`cannot read the environments file ${path}: set LINKBOX_CONFIG, or run "npm start" to use the lab`);
}

export function getConfig(): ConsoleConfig {
  const path = configPath();
  if (loaded?.path === path && loaded.version === undefined) return loaded.config;
  const version = fileVersion(path);
  if (loaded?.path === path && (version === loaded.version || version === loaded.rejected)) return loaded.config;

  let config: ConsoleConfig;
  try {
    config = parseConfig(readConfigFile(path, version), path);
  } catch (err) {
    if (loaded?.path !== path) throw err;
    // Keep serving the last good config; say so once per bad version.
    console.error(`config: ${(err as Error).message}\nconfig: still using the version loaded before; the console reads the file again when it changes`);
    loaded = { ...loaded, rejected: version };
    return loaded.config;
  }
  loaded = { path, config, version };
  return config;
}

export function getEnvironment(name: string): EnvironmentConfig {
  const env = getConfig().environments.find((e) => e.name === name);
  if (!env) throw new UnknownEnvironmentError(name);
  return env;
}

/** For tests that load a config from an object instead of a file. */
export function setConfigForTests(config: z.input<typeof consoleConfigSchema>): ConsoleConfig {
  const parsed = parseConfig(JSON.stringify(config), 'test config');
  loaded = { path: configPath(), config: parsed };
  return parsed;
}
