import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Lab } from '../../infra/lab/contract';

// The manual peer: the AWS CLI v2 from Debian, by full path (an old v1 is first on PATH), run the way
// an operator runs the seed's commands, one after another, each a new process.

export const AWS_CLI = '/usr/bin/aws';

export interface CliRun {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  json: unknown;
  ms: number;
}

export function awsCli(lab: Lab, args: string[]): Promise<CliRun> {
  const home = join(resolve('.lab'), 'bench-aws-cli-home');
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
          AWS_ACCESS_KEY_ID: 'BENCHOPERATOR',
          AWS_SECRET_ACCESS_KEY: 'testing',
          AWS_PAGER: '',
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
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

/** Like awsCli, but a failing command is an error naming the command (never its --value). */
export async function awsCliOk(lab: Lab, args: string[]): Promise<CliRun> {
  const run = await awsCli(lab, args);
  if (run.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed (${run.code}): ${run.stderr.trim().slice(0, 300)}`);
  return run;
}
