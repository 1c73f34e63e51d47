// `npm run infra:synth`: the console's CloudFormation templates from its environments file
// (LINKBOX_CONFIG, default infra/aws/example.config.json), into infra/aws/cdk.out (CDK_OUTDIR when the
// CDK CLI runs it). Offline: no account, no lookups. Fails on any cdk-nag finding not suppressed
// with a reason. Runs with `node --conditions=react-server --import tsx`, as lib/ is server code.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildConsoleApp, synthesize } from './app';

const configPath = resolve(process.env.LINKBOX_CONFIG ?? resolve(import.meta.dirname, 'example.config.json'));
const outdir = process.env.CDK_OUTDIR ?? resolve(import.meta.dirname, 'cdk.out');

try {
  const built = buildConsoleApp(readFileSync(configPath, 'utf8'), { outdir, source: configPath });
  const { assembly, findings } = synthesize(built);
  for (const f of findings) console.error(`${f.severity} ${f.plugin} ${f.rule} at ${f.where.join(', ')}: ${f.description}`);
  if (!assembly || findings.length > 0) {
    console.error(`infra:synth: ${findings.length} finding(s) without an acknowledgement and its reason`);
    process.exit(1);
  }
  for (const stack of assembly.stacks) console.log(`${stack.stackName}: ${stack.templateFullPath}`);
  console.log(`cdk-nag AwsSolutions and CloudFormation validation: clean (${assembly.stacks.length} templates from ${configPath})`);
} catch (err) {
  console.error(`infra:synth: ${(err as Error).message}`);
  process.exit(1);
}
