// How a PostgreSQL client library reads the DATABASE_URL that start_application.sh builds without
// encoding. This follows libpq's URI parser (what psql and psycopg use): the credentials end at the
// first "@" or "/", so a password containing either really breaks the URL, exactly as in production.
// WHATWG URL parsing (Node's URL, pg-connection-string) would quietly repair an "@", hiding the bug.

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

const PREFIXES = ['postgresql://', 'postgres://'];

export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
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
  for (const piece of password.split(/[@/]/)) {
    if (piece.length >= 4) out = out.split(piece).join('********');
  }
  return out;
}
