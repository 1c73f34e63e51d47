import { runAwsCli, type AwsCliRun } from '../../infra/lab/aws-cli';
import type { Lab } from '../../infra/lab/contract';

// The manual peer: the seed's commands typed one after another, each a new process.

export type CliRun = AwsCliRun;

export function awsCli(lab: Lab, args: string[]): Promise<CliRun> {
  return runAwsCli(lab, args, { accessKeyId: 'BENCHOPERATOR', homeName: 'bench-aws-cli-home' });
}

/** Like awsCli, but a failing command is an error naming the command (never its --value). */
export async function awsCliOk(lab: Lab, args: string[]): Promise<CliRun> {
  const run = await awsCli(lab, args);
  if (run.code !== 0) throw new Error(`aws ${args.slice(0, 2).join(' ')} failed (${run.code}): ${run.stderr.trim().slice(0, 300)}`);
  return run;
}
