import 'server-only';
import type { ConsoleConfig } from '@/lib/config/schema';
import { oidcSettings, type OidcSettings } from './oidc';

// What start-up refuses about identity, each with one line that says what to change: a console that
// would fail at the first sign-in, or sign people in in a way that is only fit for the lab, does not
// start. instrumentation.ts calls these after the config itself has loaded.

export class IdentitySetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdentitySetupError';
  }
}

type Env = Record<string, string | undefined>;

/** The lab's accounts' password variables; they mean "lab" and nothing in a real deployment. */
const LAB_PASSWORD_VARIABLES = ['LAB_VIEWER_PASSWORD', 'LAB_OPERATOR_PASSWORD', 'LAB_ADMIN_PASSWORD', 'LAB_UNVERIFIED_PASSWORD'];
const MIN_SECRET_LENGTH = 32;

/** The settings sign-in needs; throws IdentitySetupError naming the first thing wrong. */
export function checkIdentitySetup(config: Pick<ConsoleConfig, 'mode'>, env: Env = process.env): OidcSettings {
  const secret = env.NEXTAUTH_SECRET;
  if (!secret) {
    throw new IdentitySetupError(
      env.AUTH_SECRET
        ? 'AUTH_SECRET is set but the console reads only NEXTAUTH_SECRET: rename the variable to NEXTAUTH_SECRET'
        : `NEXTAUTH_SECRET is not set: set it to a random value of at least ${MIN_SECRET_LENGTH} characters (openssl rand -base64 32)`,
    );
  }
  if (secret.length < MIN_SECRET_LENGTH) throw new IdentitySetupError(`NEXTAUTH_SECRET is shorter than ${MIN_SECRET_LENGTH} characters: use a random value (openssl rand -base64 32)`);

  const missing = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'].filter((name) => !env[name]?.trim());
  if (missing.length > 0) {
    throw new IdentitySetupError(`sign-in needs OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET; ${missing.join(', ')} ${missing.length === 1 ? 'is' : 'are'} not set (npm start sets them for the lab)`);
  }
  const settings = oidcSettings(env)!;
  let issuer: URL;
  try {
    issuer = new URL(settings.issuer);
  } catch {
    throw new IdentitySetupError(`OIDC_ISSUER=${settings.issuer} is not a URL: use the issuer your IdP names in its discovery document`);
  }
  if (issuer.search || issuer.hash) throw new IdentitySetupError(`OIDC_ISSUER must not have a query or fragment: use the issuer your IdP names in its discovery document`);

  if (config.mode === 'aws') {
    const labVariables = LAB_PASSWORD_VARIABLES.filter((name) => env[name]);
    if (labVariables.length > 0) {
      throw new IdentitySetupError(`${labVariables.join(', ')} ${labVariables.length === 1 ? 'is' : 'are'} set, but lab accounts exist only in the lab: unset ${labVariables.length === 1 ? 'it' : 'them'}, or point LINKBOX_CONFIG at the lab config`);
    }
    if (issuer.protocol !== 'https:') throw new IdentitySetupError(`OIDC_ISSUER must be an https URL in mode "aws" (${settings.issuer} is the lab's kind of identity provider)`);
    const url = env.NEXTAUTH_URL?.trim();
    if (!url || !/^https:\/\/[^/]/.test(url)) {
      throw new IdentitySetupError('NEXTAUTH_URL must be the console\'s https address in mode "aws" (e.g. https://ops.example.com): the IdP sends people back there');
    }
  }
  return settings;
}

export interface DiscoveryOptions {
  /** Attempts in all; a slow or restarting IdP gets this many chances before start-up gives up. */
  attempts?: number;
  /** The wait before the second attempt; it doubles after each failure. */
  firstDelayMs?: number;
  timeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  log?: (line: string) => void;
}

/** A failure no retry fixes: the issuer answered, and what it said is wrong. */
class DiscoveryRefused extends Error {}

/**
 * The issuer's discovery document answers and describes this issuer, with the endpoints the code
 * flow needs. Network errors, timeouts and 5xx are retried with backoff (about a minute in all by
 * default); a wrong answer is refused at once.
 */
export async function discoverIssuer(settings: OidcSettings, opts: DiscoveryOptions = {}): Promise<void> {
  const { attempts = 7, firstDelayMs = 1000, timeoutMs = 5000, sleep = (ms) => new Promise((r) => setTimeout(r, ms)), log = () => {} } = opts;
  const url = `${settings.issuer}/.well-known/openid-configuration`;
  let delay = firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await readDiscovery(url, settings.issuer, timeoutMs);
      return;
    } catch (err) {
      const reason = (err as Error).message;
      if (err instanceof DiscoveryRefused) throw new IdentitySetupError(`the OIDC issuer ${settings.issuer} cannot be used: ${reason}`);
      if (attempt >= attempts) throw new IdentitySetupError(`the OIDC issuer ${settings.issuer} cannot be discovered at ${url} after ${attempts} attempts: ${reason}`);
      log(`OIDC discovery at ${url} failed (${reason}); trying again in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
      delay *= 2;
    }
  }
}

/** "ECONNREFUSED", "ENOTFOUND"...: fetch wraps the socket's error, sometimes twice. */
function networkReason(err: unknown): string {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return (err as Error).message;
}

async function readDiscovery(url: string, issuer: string, timeoutMs: number): Promise<void> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new Error((err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs / 1000} s` : networkReason(err));
  }
  if (res.status >= 500 || res.status === 429) throw new Error(`HTTP ${res.status}`);
  if (res.status !== 200) throw new DiscoveryRefused(`its discovery document answered HTTP ${res.status}: check OIDC_ISSUER`);
  let doc: Record<string, unknown>;
  try {
    doc = (await res.json()) as Record<string, unknown>;
  } catch {
    throw new DiscoveryRefused('its discovery document is not JSON: check OIDC_ISSUER');
  }
  if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/+$/, '') !== issuer) {
    throw new DiscoveryRefused(`its discovery document names the issuer ${JSON.stringify(doc.issuer)}: set OIDC_ISSUER to exactly that`);
  }
  for (const field of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) {
    if (typeof doc[field] !== 'string') throw new DiscoveryRefused(`its discovery document has no ${field}`);
  }
  const algs = doc.id_token_signing_alg_values_supported;
  if (Array.isArray(algs) && !algs.includes('RS256')) throw new DiscoveryRefused('it does not sign ID tokens with RS256, which the console expects');
}
