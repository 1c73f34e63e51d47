import 'server-only';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { consoleConfigSchema, type ConsoleConfig, type EnvironmentConfig } from './schema';

// The environments file is read once per process from LINKBOX_CONFIG (default ./linkbox.config.json).
// A bad file stops start-up with the field named, never a half-working console.

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

let loaded: { path: string; config: ConsoleConfig } | undefined;

export function getConfig(): ConsoleConfig {
  const path = configPath();
  if (loaded?.path === path) return loaded.config;
  let text: string;
  try {
    text = readFileSync(/*turbopackIgnore: true*/ path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read the environments file ${path}: set LINKBOX_CONFIG, or run "npm start" to use the lab`);
  }
  const config = parseConfig(text, path);
  loaded = { path, config };
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
