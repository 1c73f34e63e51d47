import { parseRustUrl } from './rust-url';

// How the LinkBox backend turns the four SSM parameters into a database login, stage by stage, as
// the real chain does it (docs/backend-url-parsing.md has the sources and a table):
//
// 1. start_application.sh: `$(aws ssm get-parameter ... --output text)` (trailing newlines dropped),
//    `DATABASE_URL="postgresql://${DB_USERNAME}:${DB_PASSWORD}@${DB_ENDPOINT}:5432/${DB_NAME}"`
//    without encoding, then `docker run ... -e DATABASE_URL=$DATABASE_URL $IMAGE_URI`: unquoted, so
//    whitespace splits it and the next piece becomes docker's image argument.
// 2. Pydantic settings (`database_url: AnyUrl`, pydantic 2.13.4 / pydantic-core 2.46.4): the `url`
//    crate 2.5.8 parses it (rust-url.ts) when the app is imported; a parse error stops the app.
// 3. SQLAlchemy 2.0.52 `create_engine(str(settings.database_url))`: `make_url` → `_parse_url`, a
//    regex over the serialized URL that unquotes user name and password (not the database), then
//    the psycopg2 dialect's `create_connect_args` (`translate_connect_args`, query items added).
// 4. psycopg2 `connect(**kwargs)`: every value reaches libpq as a separate keyword, so nothing is
//    re-parsed; what SQLAlchemy left out falls back to libpq's defaults.
//
// The lab's backend process logs in with what this produces, so a password that RDS and SSM agree on
// can still fail for the backend alone. `psql $DATABASE_URL` reads the URL with libpq's own URI
// parser instead (parseLibpqUri below), which is why the seed's checklist can disagree with the app.
//
// This model is the lab's own; the console has an independent implementation of the same rules.

export interface ParsedDatabaseUrl {
  user: string;
  password: string;
  host: string;
  port: number;
  database: string;
}

export class DatabaseUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseUrlError';
  }
}

// ---- the backend's chain ----

export interface SsmDatabaseSettings {
  endpoint: string;
  username: string;
  password: string;
  name: string;
}

/** What psycopg2 hands libpq. null: not sent, libpq's default applies (see LIBPQ_DEFAULTS). */
export interface BackendLogin {
  user: string | null;
  password: string | null;
  /** null: no host, so libpq uses its Unix socket. */
  host: string | null;
  port: number;
  database: string | null;
  /** Further libpq keywords that came from the URL's query (rare: the URL's own "?"). */
  options: Record<string, string>;
}

/** Where the chain stops: the start script, the app's import (settings, engine), or the first connect. */
export type BackendUrlStage = 'docker-run' | 'settings' | 'create-engine' | 'connect';

export type BackendUrlOutcome =
  | { ok: true; databaseUrl: string; settingsUrl: string; login: BackendLogin }
  | { ok: false; stage: BackendUrlStage; error: string; databaseUrl?: string; settingsUrl?: string };

/** libpq without a user (the container's OS user: the image runs as root), database (= user) or port. */
export const LIBPQ_DEFAULTS = { user: 'root', port: 5432 } as const;

/** The string start_application.sh builds (the command substitutions drop trailing newlines). */
export function startScriptDatabaseUrl(ssm: SsmDatabaseSettings): string {
  const v = (text: string) => text.replace(/\n+$/, '');
  return `postgresql://${v(ssm.username)}:${v(ssm.password)}@${v(ssm.endpoint)}:5432/${v(ssm.name)}`;
}

/** The whole chain from the four SSM values to what psycopg2 sends. */
export function backendLoginFromSsm(ssm: SsmDatabaseSettings): BackendUrlOutcome {
  const databaseUrl = startScriptDatabaseUrl(ssm);
  // `-e DATABASE_URL=$DATABASE_URL` unquoted: IFS (space, tab, newline) splits the word. Pathname
  // expansion would also apply to *, ? and [ but finds no file named like the URL, so they stay.
  const words = `DATABASE_URL=${databaseUrl}`.split(/[ \t\n]+/).filter(Boolean);
  if (words.length > 1) {
    const image = words[1]!;
    // The first stray piece is taken for the image name; it holds a piece of the password, never shown.
    const error = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?$/.test(image)
      ? "docker: Error response from daemon: pull access denied for <part of DATABASE_URL>, repository does not exist or may require 'docker login'"
      : 'docker: invalid reference format.';
    return { ok: false, stage: 'docker-run', error, databaseUrl };
  }
  return { ...backendLoginFromDatabaseUrl(words[0]!.slice('DATABASE_URL='.length)), databaseUrl };
}

/** Stages 2-4, for a DATABASE_URL the app finds in its environment (or the local .env). */
export function backendLoginFromDatabaseUrl(databaseUrl: string): BackendUrlOutcome {
  if (databaseUrl === '') return { ok: false, stage: 'settings', error: 'Input should be a valid URL, input is empty', databaseUrl };
  const parsed = parseRustUrl(databaseUrl);
  if (!parsed.ok) {
    if ('specialScheme' in parsed) {
      return { ok: false, stage: 'create-engine', error: `Can't load plugin: sqlalchemy.dialects:${parsed.specialScheme}`, databaseUrl };
    }
    return { ok: false, stage: 'settings', error: `Input should be a valid URL, ${parsed.error}`, databaseUrl };
  }
  const settingsUrl = parsed.serialization;
  const engine = sqlalchemyConnectArgs(settingsUrl);
  if ('error' in engine) return { ok: false, stage: engine.stage, error: engine.error, databaseUrl, settingsUrl };
  return { ok: true, databaseUrl, settingsUrl, login: engine.login };
}

// SQLAlchemy 2.0.52, lib/sqlalchemy/engine/url.py `_parse_url` (the same regex as 1.4 and 2.1).
const SQLALCHEMY_URL =
  /^(?<name>[\w+]+):\/\/(?:(?<username>[^:/]*)(?::(?<password>[^@]*))?@)?(?:(?:\[(?<ipv6host>[^/?]+)\]|(?<ipv4host>[^/:?]+))?(?::(?<port>[^/?]*))?)?(?:\/(?<database>[^?]*))?(?:\?(?<query>.*))?/;

/** libpq's connection keywords (PostgreSQL 17, fe-connect.c PQconninfoOptions): others are "invalid connection option". */
const LIBPQ_KEYWORDS = new Set([
  'host', 'hostaddr', 'port', 'dbname', 'user', 'password', 'passfile', 'require_auth', 'channel_binding', 'connect_timeout',
  'client_encoding', 'options', 'application_name', 'fallback_application_name', 'keepalives', 'keepalives_idle',
  'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode', 'sslmode', 'requiressl',
  'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslcertmode', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslsni',
  'requirepeer', 'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation',
  'service', 'target_session_attrs', 'load_balance_hosts', 'sslnegotiation',
]);

function sqlalchemyConnectArgs(url: string): { login: BackendLogin } | { stage: BackendUrlStage; error: string } {
  const m = SQLALCHEMY_URL.exec(url);
  if (!m?.groups) return { stage: 'create-engine', error: 'Could not parse SQLAlchemy URL from given URL string' };
  const g = m.groups;
  const name = g.name!;
  if (name !== 'postgresql' && name !== 'postgresql+psycopg2') return { stage: 'create-engine', error: `Can't load plugin: sqlalchemy.dialects:${name.replace('+', '.')}` };
  const username = g.username === undefined ? undefined : pythonUnquote(g.username);
  const password = g.password === undefined ? undefined : pythonUnquote(g.password);
  const host = g.ipv4host || g.ipv6host || undefined;
  let port: number | undefined;
  if (g.port) {
    port = pythonInt(g.port);
    if (port === undefined) return { stage: 'create-engine', error: "ValueError: invalid literal for int() with base 10: '<part of DATABASE_URL>'" };
  }
  // translate_connect_args(username="user", database="dbname"): unset or false attributes are omitted.
  const opts: Record<string, string> = {};
  if (host) opts.host = host;
  if (g.database) opts.dbname = g.database;
  if (username) opts.user = username;
  if (password) opts.password = password;
  if (port) opts.port = String(port);
  // create_connect_args: opts.update(url.query); a "host" or "port" there is SQLAlchemy's multihost syntax.
  for (const [key, value] of pythonParseQsl(g.query ?? '')) {
    if (key === 'host' || key === 'port') return { stage: 'create-engine', error: 'the lab does not model SQLAlchemy\'s multihost query syntax' };
    opts[key] = value;
  }
  // psycopg2.connect(**opts) → make_dsn → libpq checks the keywords before connecting.
  for (const key of Object.keys(opts)) {
    if (!LIBPQ_KEYWORDS.has(key)) return { stage: 'connect', error: `invalid dsn: invalid connection option "${key}"` };
  }
  if (Object.values(opts).some((v) => v.includes('\0'))) return { stage: 'connect', error: 'ValueError: embedded null character' };
  const { host: h, port: p, dbname, user, password: pw, ...options } = opts;
  return {
    login: {
      user: user ?? null,
      password: pw ?? null,
      host: h ?? null,
      port: p ? Number(p) : LIBPQ_DEFAULTS.port,
      database: dbname ?? null,
      options,
    },
  };
}

/** Python's `int(text)` for a str: optional whitespace and sign, ASCII digits with single underscores between. */
function pythonInt(text: string): number | undefined {
  const m = /^[ \t\n\r\f\v]*([+-]?)(\d+(?:_\d+)*)[ \t\n\r\f\v]*$/.exec(text);
  if (!m) return undefined;
  return Number(`${m[1]}${m[2]!.replace(/_/g, '')}`);
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * urllib.parse.unquote (CPython 3.11): %XX of two hex digits becomes a byte, anything else stays as
 * it is; the bytes of each ASCII run are decoded as UTF-8 with errors="replace".
 */
export function pythonUnquote(text: string): string {
  if (!text.includes('%')) return text;
  return text.replace(/[\x00-\x7f]+/g, (run) => {
    const bytes: number[] = [];
    for (let i = 0; i < run.length; i++) {
      if (run[i] === '%' && /^[0-9a-fA-F]{2}$/.test(run.slice(i + 1, i + 3))) {
        bytes.push(parseInt(run.slice(i + 1, i + 3), 16));
        i += 2;
      } else bytes.push(run.charCodeAt(i));
    }
    return utf8Decoder.decode(new Uint8Array(bytes));
  });
}

/** urllib.parse.parse_qsl(qs) with its defaults: "&" separates, blank values are dropped, "+" is a space. */
function pythonParseQsl(query: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const field of query ? query.split('&') : []) {
    const eq = field.indexOf('=');
    if (eq < 0) continue;
    const value = field.slice(eq + 1);
    if (!value) continue;
    pairs.push([pythonUnquote(field.slice(0, eq).replace(/\+/g, ' ')), pythonUnquote(value.replace(/\+/g, ' '))]);
  }
  return pairs;
}

// ---- libpq, for `psql $DATABASE_URL` ----

// libpq's URI parser (what psql and libpq-based tools use): the credentials end at the first "@" or
// "/", so a password containing either really breaks the URL there, and every part is percent-decoded.

const PREFIXES = ['postgresql://', 'postgres://'];

export function parseLibpqUri(url: string): ParsedDatabaseUrl {
  const prefix = PREFIXES.find((p) => url.startsWith(p));
  if (!prefix) throw new DatabaseUrlError('invalid URI: DATABASE_URL must start with "postgresql://"');
  let rest = url.slice(prefix.length);

  let user = '';
  let password = '';
  const credentialsEnd = rest.search(/[@/]/);
  if (credentialsEnd >= 0 && rest[credentialsEnd] === '@') {
    const credentials = rest.slice(0, credentialsEnd);
    const colon = credentials.indexOf(':');
    user = decode(colon >= 0 ? credentials.slice(0, colon) : credentials);
    password = colon >= 0 ? decode(credentials.slice(colon + 1)) : '';
    rest = rest.slice(credentialsEnd + 1);
  }

  const hostEnd = rest.search(/[:/?]/);
  const host = decode(hostEnd >= 0 ? rest.slice(0, hostEnd) : rest);
  rest = hostEnd >= 0 ? rest.slice(hostEnd) : '';

  let port = 5432;
  if (rest.startsWith(':')) {
    const portEnd = rest.search(/[/?]/);
    const portText = portEnd >= 0 ? rest.slice(1, portEnd) : rest.slice(1);
    rest = portEnd >= 0 ? rest.slice(portEnd) : '';
    // The port text may be a fragment of the password (a "/" in it ends the credentials early).
    if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
      throw new DatabaseUrlError('invalid port number in DATABASE_URL (a "/" or "@" in the password breaks the URL)');
    }
    port = Number(portText);
  }

  let database = '';
  if (rest.startsWith('/')) {
    const dbEnd = rest.indexOf('?');
    database = decode(dbEnd >= 0 ? rest.slice(1, dbEnd) : rest.slice(1));
  }
  if (!host) throw new DatabaseUrlError('DATABASE_URL has no host');
  return { user, password, host, port, database: database || user };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new DatabaseUrlError('invalid percent-encoding in DATABASE_URL');
  }
}

// ---- showing what went wrong without the secret ----

/**
 * The host as it may be shown: when a password "@" was misread as part of the host, the part before
 * the last "@" is a piece of the password and is hidden.
 */
export function displayHost(host: string): string {
  const at = host.lastIndexOf('@');
  return at >= 0 ? `<part of the password>@${host.slice(at + 1)}` : host;
}

/** Removes the password (and, when it is long enough to matter, its "@"/"/"-separated pieces). */
export function scrubSecret(text: string, password: string): string {
  if (!password) return text;
  let out = text.split(password).join('********');
  for (const piece of password.split(/[@/#?%:]/)) {
    if (piece.length >= 4) out = out.split(piece).join('********');
  }
  return out;
}
