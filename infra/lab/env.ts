// The lab's settings from the environment, shared by `npm run lab` and `npm start`.
import { resolve } from 'node:path';
import { DEFAULT_LAB_OPTIONS } from './index';
import type { LabOptions } from './contract';
import { completePasswords, LAB_OIDC_ACCOUNTS, type LabOidcPasswords } from './oidc/accounts';
import { MAX_ENVIRONMENTS } from './seed';

export class LabSettingError extends Error {}

type Env = Record<string, string | undefined>;

function intFromEnv(name: string, fallback: number, min: number, max: number, env: Env = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new LabSettingError(`${name}=${raw} is not valid: use a whole number from ${min} to ${max}`);
  }
  return value;
}

export function labOptionsFromEnv(log: (line: string) => void): LabOptions & { oidc: { passwords: LabOidcPasswords } } {
  const env = process.env;
  return {
    ...DEFAULT_LAB_OPTIONS,
    gatewayPort: intFromEnv('LAB_GATEWAY_PORT', DEFAULT_LAB_OPTIONS.gatewayPort, 0, 65535),
    localBackendPort: intFromEnv('LAB_LOCAL_BACKEND_PORT', DEFAULT_LAB_OPTIONS.localBackendPort, 0, 65535),
    resetSeconds: intFromEnv('LAB_RESET_SECONDS', DEFAULT_LAB_OPTIONS.resetSeconds, 0, 3600),
    environments: intFromEnv('LAB_ENVIRONMENTS', DEFAULT_LAB_OPTIONS.environments, 1, MAX_ENVIRONMENTS),
    dataDir: resolve(env.LAB_DATA_DIR || DEFAULT_LAB_OPTIONS.dataDir),
    log,
    oidc: {
      // Unset: startLab's rule (4567 beside the default gateway, else a kernel-picked port).
      port: env.LAB_OIDC_PORT?.trim() ? intFromEnv('LAB_OIDC_PORT', 0, 0, 65535) : undefined,
      redirectUris: consoleRedirectUrisFromEnv(env),
      groupsClaim: env.LAB_OIDC_GROUPS_CLAIM?.trim() || undefined,
      // The lab accounts' variables, as the console reads them; one not set gets a password for this start.
      passwords: completePasswords(Object.fromEntries(LAB_OIDC_ACCOUNTS.map((a) => [a.passwordVariable, env[a.passwordVariable]]))),
    },
  };
}

/**
 * Where the identity provider may send the console back: LAB_OIDC_REDIRECT_URIS (comma-separated),
 * else next-auth 4's callback for the provider id `oidc` under NEXTAUTH_URL, else under the console's
 * default address on PORT (3000), as `npm start` sets NEXTAUTH_URL.
 */
export function consoleRedirectUrisFromEnv(env: Env): string[] {
  const listed = (env.LAB_OIDC_REDIRECT_URIS ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean);
  if (listed.length > 0) return listed;
  if (env.NEXTAUTH_URL?.trim()) {
    let url: URL;
    try {
      url = new URL(env.NEXTAUTH_URL.trim());
    } catch {
      throw new LabSettingError(`NEXTAUTH_URL=${env.NEXTAUTH_URL} is not a URL`);
    }
    // next-auth 4 takes a path in NEXTAUTH_URL as its API's base path, /api/auth otherwise.
    const base = url.pathname === '/' ? '/api/auth' : url.pathname.replace(/\/+$/, '');
    return [`${url.origin}${base}/callback/oidc`];
  }
  const port = intFromEnv('PORT', 3000, 1, 65535, env);
  // Without NEXTAUTH_URL a console in development answers on whichever loopback name the browser used.
  return [`http://127.0.0.1:${port}/api/auth/callback/oidc`, `http://localhost:${port}/api/auth/callback/oidc`];
}
