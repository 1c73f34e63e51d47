import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, BootstraplessSynthesizer } from 'aws-cdk-lib';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { environmentsByIdentity } from '../../lib/aws/catalogue';
import { parseConfig } from '../../lib/config/load';
import type { ConsoleConfig } from '../../lib/config/schema';
import { AccessStack } from './access-stack';
import { ConsoleStack } from './console-stack';
import { checkWithCdkNag } from './nag';

// The console's deployment as a CDK app: the main stack, and one access stack per role the config's
// environments assume in other accounts. Synthesised offline (no account, no lookups, no bootstrap
// stack: the image is a parameter, so there are no assets), with cdk-nag's AwsSolutions rules.

export const CONSOLE_STACK = 'LinkboxOpsConsole';

export interface ConsoleApp {
  app: App;
  console: ConsoleStack;
  access: AccessStack[];
}

export function buildConsoleApp(configText: string, options: { outdir?: string; source?: string } = {}): ConsoleApp {
  const config: ConsoleConfig = parseConfig(configText, options.source);
  if (config.mode !== 'aws') throw new Error(`${options.source ?? 'config'}: the deployment needs "mode": "aws" (lab sign-in is off in AWS)`);
  const app = new App({ outdir: options.outdir, analyticsReporting: false });
  const synthesizer = () => new BootstraplessSynthesizer();
  const consoleStack = new ConsoleStack(app, CONSOLE_STACK, { config, configText, synthesizer: synthesizer() });
  const access = [...environmentsByIdentity(config).roles].map(([roleArn, environments]) => {
    const credentials = environments[0]!.credentials;
    const externalId = credentials.source === 'assume-role' ? credentials.externalId : undefined;
    if (!externalId) throw new Error(`${environments.map((e) => e.name).join(', ')}: an environment in another account needs credentials.externalId, which its role's trust policy requires`);
    const [, account, name] = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn)!;
    return new AccessStack(app, `${CONSOLE_STACK}Access-${account}-${name}`, { roleArn, externalId, environments, synthesizer: synthesizer() });
  });
  checkWithCdkNag(app);
  return { app, console: consoleStack, access };
}

/** A finding of cdk-nag or of the CloudFormation validator bundled with the CDK that nothing acknowledged. */
export interface Finding {
  plugin: string;
  rule: string;
  severity: string;
  description: string;
  where: string[];
}

interface ValidationReport {
  pluginReports: Array<{ pluginName: string; violations: Array<{ ruleName: string; severity: string; description: string; violatingConstructs: Array<{ constructPath: string }> }> }>;
}

/**
 * Synthesises the app into its outdir. Findings come back from the validation report instead of
 * being thrown: unacknowledged errors (which stop the synthesis) and warnings alike.
 */
export function synthesize(built: ConsoleApp): { assembly: CloudAssembly | null; findings: Finding[] } {
  let assembly: CloudAssembly | null = null;
  let failure: unknown;
  try {
    assembly = built.app.synth();
  } catch (err) {
    failure = err;
  }
  const reportPath = join(built.app.outdir, 'validation-report.json');
  const report: ValidationReport = existsSync(reportPath) ? JSON.parse(readFileSync(reportPath, 'utf8')) : { pluginReports: [] };
  const findings = report.pluginReports.flatMap((p) =>
    p.violations.map((v) => ({ plugin: p.pluginName, rule: v.ruleName, severity: v.severity, description: v.description, where: v.violatingConstructs.map((c) => c.constructPath) })),
  );
  if (failure && findings.length === 0) throw failure;
  return { assembly, findings };
}
