import 'server-only';
import { parameterName, type LinkboxParameter, type LinkboxParameterKey } from '@/lib/aws/parameters';
import type { AwsCheckContext } from './context';
import { aws, rotationPage, sh } from './fixes';
import type { CheckDefinition } from './run';
import type { Evidence, Verdict } from './types';

// The four parameters start_application.sh reads: present, the password encrypted, and rotated
// within policy. Values of the plain three are evidence; the password's never is.

const DAY_MS = 86_400_000;

export const ssmParametersCheck: CheckDefinition<AwsCheckContext> = {
  id: 'ssm.parameters',
  kinds: ['aws'],
  async run(ctx) {
    const params = await ctx.parameters();
    const evidence: Evidence = { prefix: params.prefix };
    for (const [key, p] of Object.entries(params.parameters) as Array<[LinkboxParameterKey, LinkboxParameter]>) {
      Object.assign(evidence, parameterEvidence(key, p));
    }
    if (params.metadataUnavailable) evidence.lastModifiedBy = `unknown (${params.metadataUnavailable})`;
    if (params.missing.length === 0) {
      return { status: 'pass', summary: `All four parameters exist under ${params.prefix}`, evidence };
    }
    const missingNames = params.missing.map((k) => parameterName(ctx.env, k));
    evidence.missing = missingNames.join(', ');
    const instance = await ctx.dbInstance().catch(() => null);
    const valueFor: Record<LinkboxParameterKey, string> = {
      'db-endpoint': instance?.endpointAddress ?? '<the RDS endpoint address>',
      'db-username': instance?.masterUsername ?? '<the RDS master username>',
      'db-name': instance?.dbName ?? 'linkbox',
      'db-password': '"$NEW_PASSWORD"',
    };
    return {
      status: 'fail',
      summary: `Missing in SSM: ${missingNames.join(', ')}; start_application.sh cannot build DATABASE_URL`,
      evidence,
      fix: {
        summary: params.missing.includes('db-password')
          ? `Create the missing parameters. For db-password, rotate from the console (${rotationPage(ctx.env)}) so RDS and SSM get the same new password, or store the current one as a SecureString.`
          : 'Create the missing parameters with the values RDS reports, then restart the backends so they rebuild DATABASE_URL.',
        commands: params.missing.map((k) =>
          aws(
            ctx.env,
            'ssm put-parameter',
            '--name',
            parameterName(ctx.env, k),
            '--type',
            k === 'db-password' ? 'SecureString' : 'String',
            '--value',
            k === 'db-password' ? valueFor[k] : sh(valueFor[k]),
          ),
        ),
      },
    };
  },
};

export const ssmPasswordTypeCheck: CheckDefinition<AwsCheckContext> = {
  id: 'ssm.password-type',
  kinds: ['aws'],
  async run(ctx) {
    const p = (await ctx.parameters()).parameters['db-password'];
    if (!p) return missingVerdict(ctx, 'db-password');
    const evidence: Evidence = { parameter: p.name, type: p.type, version: p.version };
    if (!p.type) return { status: 'error', summary: 'Could not check: SSM did not report the parameter type', evidence };
    if (p.type === 'SecureString') return { status: 'pass', summary: `${p.name} is a SecureString (version ${p.version ?? '?'})`, evidence };
    const name = p.name;
    return {
      status: 'fail',
      summary: `${name} is a plain ${p.type}: stored unencrypted and readable by anyone with ssm:GetParameter`,
      evidence,
      fix: {
        summary: 'Store the same password again as a SecureString (the value does not change, so nothing needs a restart). Better still, rotate it from the console: it was exposed in plain text.',
        commands: [
          `DB_PASSWORD="$(${aws(ctx.env, 'ssm get-parameter', '--name', name, '--query Parameter.Value --output text')})"`,
          aws(ctx.env, 'ssm put-parameter', '--name', name, '--type SecureString --value "$DB_PASSWORD" --overwrite'),
          'unset DB_PASSWORD',
        ],
      },
    };
  },
};

export const ssmPasswordAgeCheck: CheckDefinition<AwsCheckContext> = {
  id: 'ssm.password-age',
  kinds: ['aws'],
  async run(ctx) {
    const p = (await ctx.parameters()).parameters['db-password'];
    if (!p) return missingVerdict(ctx, 'db-password');
    const maxAgeDays = ctx.env.passwordMaxAgeDays;
    const evidence: Evidence = { parameter: p.name, version: p.version, lastModified: p.lastModifiedDate, lastModifiedBy: p.lastModifiedUser, maxAgeDays };
    if (!p.lastModifiedDate) return { status: 'error', summary: 'Could not check: SSM did not report when the password last changed', evidence };
    const ageDays = Math.floor((Date.now() - Date.parse(p.lastModifiedDate)) / DAY_MS);
    evidence.ageDays = ageDays;
    if (ageDays <= maxAgeDays) {
      return { status: 'pass', summary: `Password changed ${ageDays} day${ageDays === 1 ? '' : 's'} ago (policy: ${maxAgeDays} days)`, evidence };
    }
    return {
      status: 'warn',
      summary: `Password last changed ${ageDays} days ago, past the ${maxAgeDays}-day policy`,
      evidence,
      fix: { summary: `Rotate it from the console (${rotationPage(ctx.env)}): it changes RDS and SSM together and restarts the backends one at a time.` },
    };
  },
};

function parameterEvidence(key: LinkboxParameterKey, p: LinkboxParameter): Evidence {
  const e: Evidence = {
    [`${key}.type`]: p.type,
    [`${key}.version`]: p.version,
    [`${key}.lastModified`]: p.lastModifiedDate,
    [`${key}.lastModifiedBy`]: p.lastModifiedUser,
  };
  if (p.value !== undefined) e[key] = p.value;
  return e;
}

/** Only reachable when ssm.parameters errored (otherwise it failed and this check was skipped). */
function missingVerdict(ctx: AwsCheckContext, key: LinkboxParameterKey): Verdict {
  return { status: 'skip', summary: `${parameterName(ctx.env, key)} does not exist (see ssm.parameters)`, evidence: {} };
}

export const SSM_CHECKS = [ssmParametersCheck, ssmPasswordTypeCheck, ssmPasswordAgeCheck];
