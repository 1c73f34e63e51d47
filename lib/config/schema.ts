import { z } from 'zod';

// The environments file, validated at start-up. Unknown fields are errors (strict objects) so a
// typo never silently falls back to a default.

/** An environment's name; routes check a path segment against it before looking anything up. */
export const ENVIRONMENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** A Docker image tag as the deploy accepts it; anything else never reaches a command line. */
export const IMAGE_TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const name = z
  .string()
  .regex(ENVIRONMENT_NAME_PATTERN, 'use lower-case letters, digits and dashes (max 40), e.g. "production"');

const parameterPrefix = z
  .string()
  .regex(/^\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must start with "/" and have no trailing "/", e.g. "/linkbox"');

const resourceSelector = z.union([
  z.strictObject({ ids: z.array(z.string().min(1)).min(1) }),
  z.strictObject({ tags: z.record(z.string(), z.string()).refine((t) => Object.keys(t).length > 0, 'needs at least one tag') }),
]);

const credentials = z.discriminatedUnion('source', [
  /** The SDK's default provider chain (env, shared config, instance role...). */
  z.strictObject({ source: z.literal('default') }),
  z.strictObject({ source: z.literal('profile'), profile: z.string().min(1) }),
  z.strictObject({
    source: z.literal('assume-role'),
    roleArn: z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/, 'must be an IAM role ARN'),
    externalId: z.string().optional(),
    sessionName: z.string().default('linkbox-ops-console'),
  }),
  /** Fixed test keys for the lab only; refused unless mode is "lab". */
  z.strictObject({ source: z.literal('lab') }),
]);

const hostPort = z.strictObject({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

export const awsEnvironmentSchema = z.strictObject({
  name,
  kind: z.literal('aws'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as "eu-west-1"'),
  credentials: credentials.default({ source: 'default' }),
  /** Only for the lab or a VPC endpoint; absent means the real AWS endpoints. */
  endpoint: z.url().optional(),
  parameterPrefix: parameterPrefix.default('/linkbox'),
  rdsInstanceId: z.string().min(1),
  dbSecurityGroup: resourceSelector,
  backendSecurityGroup: resourceSelector,
  backendInstances: resourceSelector,
  dbPort: z.number().int().min(1).max(65535).default(5432),
  health: z
    .strictObject({
      port: z.number().int().min(1).max(65535).default(80),
      path: z.string().startsWith('/').default('/health'),
      /** Per instance id, where the console reaches /health when private IPs are not routable from it. */
      urls: z.record(z.string(), z.url()).default({}),
    })
    .default({ port: 80, path: '/health', urls: {} }),
  /** Where the console reaches the database when it runs outside the VPC (an SSM port-forwarding tunnel). */
  reachVia: hostPort.optional(),
  passwordMaxAgeDays: z.number().int().positive().default(90),
  /** The backends' instance profile and its role, by name: the console's IAM policy reads and simulates only these (any, when absent). */
  backendIam: z.strictObject({ instanceProfileName: z.string().min(1), roleName: z.string().min(1) }).optional(),
  /** Where CodeDeploy put the LinkBox scripts on each instance, and the image start_application.sh runs. */
  deploy: z
    .strictObject({
      scriptsDir: z
        .string()
        .regex(/^\/[A-Za-z0-9_.\/-]*[A-Za-z0-9_.-]$/, 'must be an absolute path of letters, digits, "_", ".", "-" and "/"')
        .default('/opt/codedeploy-agent/deployment-root/linkbox-backend/current/scripts'),
      imageRepository: z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]*(:\d+)?(\/[a-z0-9][a-z0-9._-]*)*$/, 'must be an image repository such as "123456789012.dkr.ecr.eu-west-1.amazonaws.com/linkbox-backend"')
        .default('linkbox-backend'),
    })
    .default({ scriptsDir: '/opt/codedeploy-agent/deployment-root/linkbox-backend/current/scripts', imageRepository: 'linkbox-backend' }),
});

export const localEnvironmentSchema = z.strictObject({
  name,
  kind: z.literal('local'),
  /** The .env file that may override DATABASE_URL, as the backend's Pydantic settings read it. */
  envFile: z.string().min(1).optional(),
  /** The default in backend/app/core/config.py. */
  defaultDatabaseUrl: z.string().default('postgresql://linkbox_user:linkbox_password@localhost:5432/linkbox_dev'),
  backendUrl: z.url().default('http://127.0.0.1:8000'),
  healthPath: z.string().startsWith('/').default('/health'),
});

export const environmentSchema = z.discriminatedUnion('kind', [awsEnvironmentSchema, localEnvironmentSchema]);

/** Emails, or "group:NAME" for an IdP group claim. */
const principals = z.array(z.string().min(1)).default([]);

export const consoleConfigSchema = z
  .strictObject({
    /** "lab" enables the lab's local accounts and lab credentials; "aws" is a real deployment. */
    mode: z.enum(['lab', 'aws']),
    environments: z.array(environmentSchema).min(1),
    roles: z
      .strictObject({ viewer: principals, operator: principals, admin: principals })
      .default({ viewer: [], operator: [], admin: [] }),
    cacheTtlSeconds: z.number().int().min(0).max(3600).default(15),
    /** Time budget of one check, in ms: a hanging dependency costs one panel this much, not the page. */
    checkTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.environments.forEach((env, i) => {
      if (seen.has(env.name)) {
        ctx.addIssue({ code: 'custom', path: ['environments', i, 'name'], message: `duplicate environment name "${env.name}"` });
      }
      seen.add(env.name);
      if (env.kind !== 'aws') return;
      if (env.credentials.source === 'lab' && config.mode !== 'lab') {
        ctx.addIssue({ code: 'custom', path: ['environments', i, 'credentials', 'source'], message: 'lab credentials are only allowed in mode "lab"' });
      }
      if (config.mode === 'lab' && !isLoopbackUrl(env.endpoint)) {
        ctx.addIssue({
          code: 'custom',
          path: ['environments', i, 'endpoint'],
          message: 'mode "lab" only talks to a lab on this machine: set a loopback endpoint, or use mode "aws" (lab sign-in is then off)',
        });
      }
    });
  });

function isLoopbackUrl(url: string | undefined): boolean {
  if (!url) return false;
  const host = new URL(url).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
export type EnvironmentConfig = z.infer<typeof environmentSchema>;
export type AwsEnvironmentConfig = z.infer<typeof awsEnvironmentSchema>;
export type LocalEnvironmentConfig = z.infer<typeof localEnvironmentSchema>;
export type Role = 'viewer' | 'operator' | 'admin';
