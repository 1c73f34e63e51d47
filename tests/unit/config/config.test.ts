import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError, getConfig, parseConfig } from '@/lib/config/load';

const production = {
  name: 'production',
  kind: 'aws',
  region: 'eu-west-1',
  rdsInstanceId: 'linkbox-db',
  dbSecurityGroup: { tags: { Name: 'linkbox-db-sg' } },
  backendSecurityGroup: { tags: { Name: 'linkbox-backend-sg' } },
  backendInstances: { tags: { Name: 'linkbox-backend' } },
};
const config = (overrides: Record<string, unknown> = {}, env: Record<string, unknown> = {}) =>
  JSON.stringify({ mode: 'aws', environments: [{ ...production, ...env }], ...overrides });

describe('the environments file', () => {
  it('fills the documented defaults for a minimal AWS environment', () => {
    const parsed = parseConfig(config());
    const env = parsed.environments[0]!;
    expect(env).toMatchObject({ parameterPrefix: '/linkbox', dbPort: 5432, credentials: { source: 'default' }, passwordMaxAgeDays: 90 });
    expect(parsed).toMatchObject({ cacheTtlSeconds: 15, checkTimeoutMs: 5000 });
  });

  it('names an unknown field', () => {
    expect(() => parseConfig(config({}, { regoin: 'eu-west-1' }))).toThrow(/environments\[0\].*regoin/);
  });

  it('names a missing region', () => {
    const { region: _region, ...withoutRegion } = production;
    expect(() => parseConfig(JSON.stringify({ mode: 'aws', environments: [withoutRegion] }))).toThrow(/environments\[0\]\.region/);
  });

  it('names a malformed parameter prefix', () => {
    expect(() => parseConfig(config({}, { parameterPrefix: 'linkbox/' }))).toThrow(/environments\[0\]\.parameterPrefix: must start with "\/"/);
  });

  it('refuses lab credentials outside lab mode, and lab mode pointed at anything but this machine', () => {
    expect(() => parseConfig(config({}, { credentials: { source: 'lab' } }))).toThrow(/credentials\.source: lab credentials are only allowed in mode "lab"/);
    expect(() => parseConfig(config({ mode: 'lab' }, { credentials: { source: 'lab' }, endpoint: 'https://ssm.eu-west-1.amazonaws.com' }))).toThrow(
      /environments\[0\]\.endpoint: mode "lab" only talks to a lab on this machine/,
    );
    expect(() => parseConfig(config({ mode: 'lab' }, { credentials: { source: 'lab' }, endpoint: 'http://127.0.0.1:4566' }))).not.toThrow();
  });

  it('refuses two environments with one name', () => {
    expect(() => parseConfig(JSON.stringify({ mode: 'aws', environments: [production, production] }))).toThrow(/environments\[1\]\.name: duplicate/);
  });

  it('says when the file is not JSON at all', () => {
    expect(() => parseConfig('{ mode: aws', 'linkbox.config.json')).toThrow(ConfigError);
    expect(() => parseConfig('{ mode: aws', 'linkbox.config.json')).toThrow(/linkbox\.config\.json: not valid JSON/);
  });
});

describe('the file, read again when it changes', () => {
  const saved = process.env.LINKBOX_CONFIG;
  afterEach(() => {
    process.env.LINKBOX_CONFIG = saved;
    vi.restoreAllMocks();
  });
  const withOperators = (operator: string[]) => config({ roles: { viewer: [], operator, admin: [] } });

  it('takes a role away at the next read, whether the file is rewritten in place or replaced by a rename', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linkbox-config-'));
    const path = join(dir, 'linkbox.config.json');
    writeFileSync(path, withOperators(['ops@example.com', 'oncall@example.com']));
    process.env.LINKBOX_CONFIG = path;
    expect(getConfig().roles.operator).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(getConfig()).toBe(getConfig());

    writeFileSync(path, withOperators(['oncall@example.com']));
    expect(getConfig().roles.operator).toEqual(['oncall@example.com']);

    writeFileSync(join(dir, 'next.json'), withOperators([]));
    renameSync(join(dir, 'next.json'), path);
    expect(getConfig().roles.operator).toEqual([]);
  });

  it('keeps the last good config when a changed file does not validate, says so once, and takes the fixed file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'linkbox-config-'));
    const path = join(dir, 'linkbox.config.json');
    writeFileSync(path, withOperators(['ops@example.com']));
    process.env.LINKBOX_CONFIG = path;
    expect(getConfig().roles.operator).toEqual(['ops@example.com']);
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});

    writeFileSync(path, '{ "mode": "aws", "environments": [');
    expect(getConfig().roles.operator).toEqual(['ops@example.com']);
    expect(getConfig().roles.operator).toEqual(['ops@example.com']);
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0]![0]).toMatch(/not valid JSON.*\n.*still using the version loaded before/s);

    writeFileSync(path, withOperators([]));
    expect(getConfig().roles.operator).toEqual([]);
  });
});

describe('console start-up', () => {
  const saved = { config: process.env.LINKBOX_CONFIG, runtime: process.env.NEXT_RUNTIME };
  afterEach(() => {
    process.env.LINKBOX_CONFIG = saved.config;
    process.env.NEXT_RUNTIME = saved.runtime;
    vi.restoreAllMocks();
  });

  it('stops with the field named when the environments file is invalid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'linkbox-config-'));
    const path = join(dir, 'bad.json');
    writeFileSync(path, config({}, { parameterPrefix: 'nope' }));
    process.env.LINKBOX_CONFIG = path;
    process.env.NEXT_RUNTIME = 'nodejs';
    const exit = vi.spyOn(process, 'exit').mockImplementation(((code?: number) => {
      throw new Error(`exit ${code}`);
    }) as typeof process.exit);
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const { register } = await import('@/instrumentation');
    await expect(register()).rejects.toThrow('exit 1');
    expect(exit).toHaveBeenCalledWith(1);
    expect(error.mock.calls.flat().join('\n')).toMatch(/cannot start: .*environments\[0\]\.parameterPrefix/s);
  });
});
