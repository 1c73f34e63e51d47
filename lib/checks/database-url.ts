// What a LinkBox backend sends to PostgreSQL for the four SSM values, reproduced in memory:
// start_application.sh builds DATABASE_URL without encoding and passes it to `docker run -e`
// unquoted (bash splits it at whitespace), Pydantic's AnyUrl parses and re-serializes it (the url
// crate, which follows the WHATWG URL Standard: here Node's own implementation of that standard),
// SQLAlchemy 2.0's make_url reads the result with one regular expression and percent-decodes the
// user name and password, and psycopg2 hands each value to libpq as it is. `psql $DATABASE_URL`,
// the seed's own test, reads the same text with libpq's URI rules instead, which differ.
//
// The console's own implementation, written from the parsers' sources (docs/backend-url-parsing.md);
// the lab's model of the backend (infra/lab/hosts) is another, and the two share only the table of
// cases they are both tested against (tests/support/database-url-cases.ts), never code. Pure: no
// I/O, and no value of a parameter ever appears in what it says about one.

/** The four SSM values as start_application.sh reads them. */
export interface StoredCredentials {
  endpoint: string;
  username: string;
  password: string;
  name: string;
}

/** What reaches libpq; null: not sent, libpq's default applies. */
export interface ConnectionValues {
  user: string | null;
  password: string | null;
  host: string | null;
  port: number;
  database: string | null;
}

/** Where the chain stops: the container never starts, the app dies at import or at create_engine, or every connect fails. */
export type ChainStage = 'docker-run' | 'settings' | 'create-engine' | 'connect';

export type BackendReading =
  | { ok: true; sends: ConnectionValues; /** libpq options from the URL's query (sslmode, ...). */ options: Record<string, string> }
  | { ok: false; stage: ChainStage; error: string };

export type PsqlReading = { ok: true; sends: ConnectionValues } | { ok: false; error: string };

/** The port start_application.sh writes into DATABASE_URL, whatever RDS listens on. */
export const START_APPLICATION_PORT = 5432;

/** `DATABASE_URL="postgresql://${DB_USERNAME}:${DB_PASSWORD}@${DB_ENDPOINT}:5432/${DB_NAME}"`, each value as `$(…)` left it. */
export function startApplicationUrl(v: StoredCredentials): string {
  // Command substitution drops the trailing newlines of `aws ssm get-parameter --output text`.
  const read = (s: string) => s.replace(/\n+$/, '');
  return `postgresql://${read(v.username)}:${read(v.password)}@${read(v.endpoint)}:${START_APPLICATION_PORT}/${read(v.name)}`;
}

/** The backend's whole chain, from the SSM values to what psycopg2 hands libpq. */
export function backendReading(v: StoredCredentials): BackendReading {
  const url = startApplicationUrl(v);
  // `-e DATABASE_URL=$DATABASE_URL $IMAGE_URI`: unquoted, so IFS whitespace splits it and the next piece is docker's IMAGE.
  const words = url.split(/[ \t\n]+/).filter((w) => w.length > 0);
  if (words.length > 1) return { ok: false, stage: 'docker-run', error: dockerImageError(words[1]!) };
  const parsed = pydanticAnyUrl(words[0] ?? '');
  if (!parsed.ok) return { ok: false, stage: 'settings', error: parsed.error };
  return sqlalchemyPsycopg2(parsed.serialized);
}

// ---- Pydantic AnyUrl ----

function pydanticAnyUrl(input: string): { ok: true; serialized: string } | { ok: false; error: string } {
  if (input.length === 0) return { ok: false, error: 'Input should be a valid URL, input is empty' };
  try {
    return { ok: true, serialized: new URL(input).href };
  } catch {
    return { ok: false, error: `Input should be a valid URL, ${whyNotAUrl(input)}` };
  }
}

/**
 * The url crate's name for why a `scheme://…` string fails (Node's URL only throws "Invalid URL").
 * The authority ends at the first "/", "?" or "#"; its host and port follow the last "@".
 */
function whyNotAUrl(input: string): string {
  const afterScheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(.*)$/s.exec(input.trim());
  if (!afterScheme) return 'relative URL without a base';
  const authority = afterScheme[1]!.split(/[/?#]/, 1)[0]!;
  const at = authority.lastIndexOf('@');
  const hostPort = at >= 0 ? authority.slice(at + 1) : authority;
  if (hostPort.startsWith('[')) return 'invalid IPv6 address';
  const colon = hostPort.indexOf(':');
  const host = colon >= 0 ? hostPort.slice(0, colon) : hostPort;
  const port = colon >= 0 ? hostPort.slice(colon + 1) : '';
  if (host.length === 0) return 'empty host';
  if (/[\0\t\n\r #/:<>?@[\\\]^|]/.test(host)) return 'invalid domain character';
  if (port.length > 0 && (!/^[0-9]+$/.test(port) || Number(port) > 65535)) return 'invalid port number';
  return 'invalid URL';
}

// ---- docker run's IMAGE argument (distribution/reference's grammar) ----

const ALNUM = '[a-z0-9]+';
const PATH_COMPONENT = `${ALNUM}(?:(?:[._]|__|-+)${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*(?::[0-9]+)?`;
const REFERENCE = new RegExp(
  `^(?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*(?::[\\w][\\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);

/** What docker prints when a piece of DATABASE_URL lands where the image belongs (never the piece itself). */
function dockerImageError(image: string): string {
  if (REFERENCE.test(image)) {
    return "docker: Error response from daemon: pull access denied for <part of DATABASE_URL>, repository does not exist or may require 'docker login'";
  }
  if (REFERENCE.test(image.toLowerCase())) return 'docker: invalid reference format: repository name must be lowercase.';
  return 'docker: invalid reference format.';
}

// ---- SQLAlchemy 2.0 make_url, then the psycopg2 dialect and psycopg2 ----

// sqlalchemy/engine/url.py `_parse_url`, as Python's re.match applies it: anchored at the start only,
// `\w` as Unicode word characters and `.` as anything but a newline, as in Python.
const SQLALCHEMY_URL =
  /^(?<name>[\p{L}\p{N}_+]+):\/\/(?:(?<username>[^:/]*)(?::(?<password>[^@]*))?@)?(?:(?:\[(?<ipv6host>[^/?]+)\]|(?<ipv4host>[^/:?]+))?(?::(?<port>[^/?]*))?)?(?:\/(?<database>[^?]*))?(?:\?(?<query>[^\n]*))?/u;

/** libpq's connection keywords (PostgreSQL 17); psycopg2 refuses any other. */
const LIBPQ_KEYWORDS = new Set(
  (
    'host hostaddr port dbname user password passfile require_auth channel_binding connect_timeout client_encoding options ' +
    'application_name fallback_application_name keepalives keepalives_idle keepalives_interval keepalives_count tcp_user_timeout ' +
    'replication gssencmode sslmode sslnegotiation sslcompression sslcert sslkey sslpassword sslcertmode sslrootcert sslcrl sslcrldir ' +
    'sslsni requirepeer ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib gssdelegation service ' +
    'target_session_attrs load_balance_hosts'
  ).split(' '),
);

function sqlalchemyPsycopg2(serialized: string): BackendReading {
  const m = SQLALCHEMY_URL.exec(serialized);
  if (!m?.groups) return { ok: false, stage: 'create-engine', error: 'Could not parse SQLAlchemy URL from the string' };
  const g = m.groups;
  if (g.name !== 'postgresql') return { ok: false, stage: 'create-engine', error: `Can't load plugin: sqlalchemy.dialects:${g.name}` };
  let port: number | null = null;
  if (g.port) {
    port = pythonInt(g.port);
    if (port === null) return { ok: false, stage: 'create-engine', error: 'ValueError: invalid literal for int() with base 10' };
  }
  // translate_connect_args omits every empty value; libpq then uses its default.
  const present = (s: string | undefined) => (s ? s : null);
  const sends: ConnectionValues = {
    user: present(g.username === undefined ? undefined : pythonUnquote(g.username)),
    password: present(g.password === undefined ? undefined : pythonUnquote(g.password)),
    host: present(g.ipv4host ?? g.ipv6host),
    port: port || START_APPLICATION_PORT,
    database: present(g.database),
  };
  const options = g.query === undefined ? {} : parseQsl(g.query);
  const unknown = Object.keys(options).find((k) => !LIBPQ_KEYWORDS.has(k));
  if (unknown !== undefined) return { ok: false, stage: 'connect', error: 'invalid dsn: invalid connection option in the URL\'s query' };
  if ([sends.user, sends.password, sends.host, sends.database, ...Object.values(options)].some((x) => x?.includes('\0'))) {
    return { ok: false, stage: 'connect', error: 'ValueError: embedded null character' };
  }
  if (sends.port < 1 || sends.port > 65535) return { ok: false, stage: 'connect', error: 'invalid port number' };
  return { ok: true, sends, options };
}

/** Python's int() on a str: surrounding whitespace, a sign, digits with single underscores between. */
function pythonInt(text: string): number | null {
  const m = /^\s*([+-]?)(\d+(?:_\d+)*)\s*$/.exec(text);
  if (!m) return null;
  const n = Number(m[2]!.replace(/_/g, ''));
  return m[1] === '-' ? -n : n;
}

/** urllib.parse.unquote: each run of %XX becomes bytes, decoded as UTF-8 with U+FFFD for what is not. */
export function pythonUnquote(text: string): string {
  const decoder = new TextDecoder('utf-8', { fatal: false });
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => decoder.decode(Uint8Array.from(run.match(/%../g)!.map((h) => parseInt(h.slice(1), 16)))));
}

/** urllib.parse.parse_qsl with blank values dropped: "+" is a space, then %XX decoded; the last of a repeated key wins. */
function parseQsl(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const value = pythonUnquote(pair.slice(eq + 1).replace(/\+/g, ' '));
    if (value.length === 0) continue;
    out[pythonUnquote(pair.slice(0, eq).replace(/\+/g, ' '))] = value;
  }
  return out;
}

// ---- psql $DATABASE_URL: libpq's URI parser (fe-connect.c, conninfo_uri_parse_options) ----

/** What `psql $DATABASE_URL` (unquoted, as the seed's checklist runs it) would send. */
export function psqlReading(v: StoredCredentials): PsqlReading {
  const words = startApplicationUrl(v)
    .split(/[ \t\n]+/)
    .filter((w) => w.length > 0);
  if (words.length > 1) return { ok: false, error: 'the shell splits $DATABASE_URL at the whitespace, so psql gets the URL in pieces' };
  const uri = words[0] ?? '';
  const prefix = /^postgres(?:ql)?:\/\//.exec(uri);
  if (!prefix) return { ok: false, error: 'not a postgresql:// URI' };
  let rest = uri.slice(prefix[0].length);
  const values: { user?: string; password?: string; host?: string; port?: string; dbname?: string } = {};
  const stored: Array<[keyof typeof values, string]> = [];

  // Credentials only when an "@" comes before any "/".
  const firstStop = rest.search(/[@/]/);
  if (firstStop >= 0 && rest[firstStop] === '@') {
    const creds = rest.slice(0, firstStop);
    const colon = creds.indexOf(':');
    stored.push(['user', colon >= 0 ? creds.slice(0, colon) : creds]);
    if (colon >= 0) stored.push(['password', creds.slice(colon + 1)]);
    rest = rest.slice(firstStop + 1);
  }
  let host: string;
  let stop: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return { ok: false, error: 'end of string reached when looking for matching "]" in IPv6 host address in URI' };
    if (close === 1) return { ok: false, error: 'IPv6 host address may not be empty in URI' };
    host = rest.slice(1, close);
    rest = rest.slice(close + 1);
    if (rest.length > 0 && !/^[:/?,]/.test(rest)) return { ok: false, error: 'unexpected character in URI (expected ":" or "/")' };
  } else {
    const end = rest.search(/[:/?,]/);
    host = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end);
  }
  stop = rest[0];
  let port = '';
  if (stop === ':') {
    const end = rest.search(/[/?,]/);
    port = end < 0 ? rest.slice(1) : rest.slice(1, end);
    rest = end < 0 ? '' : rest.slice(end);
    stop = rest[0];
  }
  if (stop === ',') return { ok: false, error: 'several hosts in the URI' };
  if (host) stored.push(['host', host]);
  if (port) stored.push(['port', port]);
  let query: string | undefined;
  if (stop === '/') {
    const q = rest.indexOf('?');
    const dbname = q < 0 ? rest.slice(1) : rest.slice(1, q);
    if (dbname) stored.push(['dbname', dbname]);
    if (q >= 0) query = rest.slice(q + 1);
  } else if (stop === '?') query = rest.slice(1);

  for (const [k, raw] of stored) {
    const decoded = libpqDecode(raw);
    if (!decoded.ok) return decoded;
    values[k] = decoded.value;
  }
  if (query !== undefined) {
    for (const pair of query.split('&')) {
      const eq = pair.indexOf('=');
      if (eq < 0) return { ok: false, error: 'missing key/value separator "=" in URI query parameter' };
      const key = libpqDecode(pair.slice(0, eq));
      const value = libpqDecode(pair.slice(eq + 1));
      if (!key.ok) return key;
      if (!value.ok) return value;
      if (!LIBPQ_KEYWORDS.has(key.value)) return { ok: false, error: 'invalid URI query parameter' };
      if (['user', 'password', 'host', 'port', 'dbname'].includes(key.value)) values[key.value as keyof typeof values] = value.value;
    }
  }
  let portNumber = START_APPLICATION_PORT;
  if (values.port !== undefined) {
    if (!/^\s*-?\d+\s*$/.test(values.port)) return { ok: false, error: 'invalid integer value for connection option "port"' };
    portNumber = Number(values.port);
    if (portNumber < 1 || portNumber > 65535) return { ok: false, error: 'invalid port number' };
  }
  return { ok: true, sends: { user: values.user ?? null, password: values.password ?? null, host: values.host ?? null, port: portNumber, database: values.dbname ?? null } };
}

/** libpq's conninfo_uri_decode: every "%" needs two hex digits, and %00 is refused. */
function libpqDecode(text: string): { ok: true; value: string } | { ok: false; error: string } {
  const bytes: number[] = [];
  const raw = new TextEncoder().encode(text);
  for (let i = 0; i < raw.length; i++) {
    if (raw[i] !== 0x25) {
      bytes.push(raw[i]!);
      continue;
    }
    const hex = String.fromCharCode(raw[i + 1] ?? 0, raw[i + 2] ?? 0);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, error: 'invalid percent-encoded token' };
    const byte = parseInt(hex, 16);
    if (byte === 0) return { ok: false, error: 'forbidden value %00 in percent-encoded value' };
    bytes.push(byte);
    i += 2;
  }
  try {
    return { ok: true, value: new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes)) };
  } catch {
    // libpq sends the bytes as they are: kept apart from any text (as Python's surrogateescape does), so they never compare equal to one.
    return { ok: true, value: String.fromCharCode(...bytes.map((b) => (b < 0x80 ? b : 0xdc00 + b))) };
  }
}

// ---- Compared with what is stored ----

export type CredentialField = 'user' | 'password' | 'host' | 'port' | 'database';
export type StoredParameter = 'db-username' | 'db-password' | 'db-endpoint' | 'db-name';

const PARAMETER_OF: Record<Exclude<CredentialField, 'port'>, StoredParameter> = { user: 'db-username', password: 'db-password', host: 'db-endpoint', database: 'db-name' };
const VALUE_OF: Record<StoredParameter, keyof StoredCredentials> = { 'db-username': 'username', 'db-password': 'password', 'db-endpoint': 'endpoint', 'db-name': 'name' };

/** The kinds of character the chain treats specially, in the words an operator reads. */
export const CHARACTER_KINDS: ReadonlyArray<{ kind: string; pattern: RegExp }> = [
  { kind: 'a percent sign followed by two hex digits (%XX)', pattern: /%[0-9A-Fa-f]{2}/g },
  { kind: 'whitespace (a space, tab or newline)', pattern: /[ \t\n]/g },
  { kind: 'a slash (/)', pattern: /\//g },
  { kind: 'a question mark (?)', pattern: /\?/g },
  { kind: 'a hash (#)', pattern: /#/g },
  { kind: 'an at sign (@)', pattern: /@/g },
  { kind: 'a colon (:)', pattern: /:/g },
  { kind: 'a percent sign not followed by two hex digits', pattern: /%(?![0-9A-Fa-f]{2})/g },
  { kind: 'a backslash (\\)', pattern: /\\/g },
  { kind: 'a square bracket ([ or ])', pattern: /[[\]]/g },
  { kind: 'a control character', pattern: /[\x00-\x08\x0b-\x1f\x7f]/g },
];

/** One field the backend would send differently from what SSM (and RDS) hold. */
export interface CredentialDifference {
  field: CredentialField;
  /** The parameter behind the field; null for the port, which start_application.sh fixes at 5432. */
  parameter: StoredParameter | null;
}

/** Which parameter holds which kind of character that, replaced by a plain letter, makes the backend's login right. */
export interface CharacterCause {
  parameter: StoredParameter;
  kinds: string[];
}

export interface BackendCredentialsVerdict {
  reading: BackendReading;
  /** Empty when the backend sends exactly the stored values (or when it fails before sending anything). */
  differences: CredentialDifference[];
  /** Null when nothing is wrong, or when no character explains it (the port, say). */
  cause: CharacterCause | null;
  psql: PsqlReading;
  /** Fields psql would send differently from the backend (when both send something). */
  psqlDiffers: CredentialField[];
}

/** What the backend would send compared with what SSM holds (and RDS, for the port), and why any difference. */
export function judgeBackendCredentials(v: StoredCredentials, databasePort: number): BackendCredentialsVerdict {
  const reading = backendReading(v);
  const differences = reading.ok ? differencesOf(v, reading.sends, databasePort) : [];
  const wrong = !reading.ok || differences.length > 0;
  const psql = psqlReading(v);
  const psqlDiffers = reading.ok && psql.ok ? (['user', 'password', 'host', 'port', 'database'] as const).filter((f) => !sameValue(f, reading.sends[f], psql.sends[f])) : [];
  const portOnly = differences.length > 0 && differences.every((d) => d.field === 'port');
  return { reading, differences, cause: wrong && !portOnly ? causeOf(v, databasePort) : null, psql, psqlDiffers };
}

function differencesOf(v: StoredCredentials, sends: ConnectionValues, databasePort: number): CredentialDifference[] {
  const expected: ConnectionValues = { user: v.username, password: v.password, host: v.endpoint, port: databasePort, database: v.name };
  return (['user', 'password', 'host', 'port', 'database'] as const)
    .filter((f) => !sameValue(f, sends[f], expected[f]))
    .map((field) => ({ field, parameter: field === 'port' ? null : PARAMETER_OF[field] }));
}

function sameValue(field: CredentialField, a: string | number | null, b: string | number | null): boolean {
  // Not sending an empty value is sending it; host names are compared as DNS compares them.
  const norm = (x: string | number | null) => (x === null ? '' : field === 'host' ? String(x).toLowerCase() : String(x));
  return norm(a) === norm(b);
}

/** Replaces one kind of character at a time, in one parameter at a time, until the backend gets it right. */
function causeOf(v: StoredCredentials, databasePort: number): CharacterCause | null {
  const right = (candidate: StoredCredentials) => {
    const r = backendReading(candidate);
    return r.ok && differencesOf(candidate, r.sends, databasePort).length === 0;
  };
  const parameters: StoredParameter[] = ['db-password', 'db-username', 'db-name', 'db-endpoint'];
  for (const parameter of parameters) {
    const field = VALUE_OF[parameter];
    const present = CHARACTER_KINDS.filter((k) => v[field].match(k.pattern));
    const single = present.filter((k) => right({ ...v, [field]: v[field].replace(k.pattern, 'x') }));
    if (single.length > 0) return { parameter, kinds: single.map((k) => k.kind) };
    if (present.length > 1 && right({ ...v, [field]: present.reduce((s, k) => s.replace(k.pattern, 'x'), v[field]) })) {
      return { parameter, kinds: present.map((k) => k.kind) };
    }
  }
  return null;
}
