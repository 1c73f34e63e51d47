// The AWS CLI v2 from Debian against a lab, as an operator runs the seed's commands: by full path
// (an old v1 may come first on PATH), JSON output, no profile or shared config in the way.
// Used by the integration tests and by the benchmarks' manual peer.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Lab } from './contract';

export const AWS_CLI = '/usr/bin/aws';

export interface AwsCliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: unknown;
  ms: number;
}

export interface AwsCliOptions {
  accessKeyId?: string;
  /** A HOME of its own under .lab, so the CLI's cache never mixes with the user's. */
  homeName?: string;
  env?: Record<string, string>;
}

export function runAwsCli(lab: Pick<Lab, 'awsEndpoint' | 'region'>, args: string[], opts: AwsCliOptions = {}): Promise<AwsCliRun> {
  const home = join(resolve('.lab'), opts.homeName ?? 'aws-cli-home');
  mkdirSync(home, { recursive: true });
  const started = performance.now();
  return new Promise((done) => {
    execFile(
      AWS_CLI,
      ['--endpoint-url', lab.awsEndpoint, '--region', lab.region, '--output', 'json', ...args],
      {
        env: {
          ...process.env,
          AWS_PROFILE: undefined,
          AWS_SESSION_TOKEN: undefined,
          HOME: home,
          AWS_ACCESS_KEY_ID: opts.accessKeyId ?? 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          ...opts.env,
        },
        timeout: 60_000,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        let json: unknown;
        try {
          json = stdout.trim() ? JSON.parse(stdout) : undefined;
        } catch {
          json = undefined;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        done({ args, code, stdout, stderr, json, ms: performance.now() - started });
      },
    );
  });
}
