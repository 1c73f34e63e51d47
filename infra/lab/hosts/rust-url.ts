// The `url` crate's parser and serializer (servo/rust-url, crate version 2.5.8, url/src/parser.rs
// and url/src/host.rs), for URLs with a non-special scheme such as `postgresql:`: what Pydantic v2
// does to DATABASE_URL. pydantic-core 2.46.4 (the core of pydantic 2.13.4; Cargo.lock pins url
// 2.5.8) validates an `AnyUrl` with `Url::options().parse(s)` in lax mode, where syntax violations
// are ignored (src/validators/url.rs `parse_url`), and `str(settings.database_url)` is the crate's
// serialization, `Url::as_str()` (src/url.rs `PyUrl::__str__`). This is a port of the code paths a
// non-special URL without a base takes, written from that source; the functions keep the crate's
// names so the two can be read side by side. Special schemes (http, https, ws, wss, ftp, file) take
// other paths and are refused here: the backend's SQLAlchemy would refuse them anyway.
//
// Part of the lab's model of the backend; the console keeps its own implementation, on purpose.

export type RustUrlResult =
  | { ok: true; serialization: string }
  | { ok: false; error: string }
  /** A special scheme: the crate parses it differently, and this port does not model how. */
  | { ok: false; specialScheme: string };

/** The crate's ParseError texts (parser.rs `simple_enum_error!`), which pydantic puts in its message. */
export const RUST_URL_ERRORS = {
  EmptyHost: 'empty host',
  InvalidPort: 'invalid port number',
  InvalidIpv6Address: 'invalid IPv6 address',
  InvalidDomainCharacter: 'invalid domain character',
  RelativeUrlWithoutBase: 'relative URL without a base',
} as const;

class ParseError extends Error {}
class SpecialScheme extends Error {}

const SPECIAL_SCHEMES = new Set(['http', 'https', 'ws', 'wss', 'ftp', 'file']);

// percent_encoding's CONTROLS is 0x00-0x1F and 0x7F; bytes >= 0x80 are always encoded.
const FRAGMENT = new Set([...' "<>`']);
const PATH = new Set([...FRAGMENT, ...'#?{}']);
const USERINFO = new Set([...PATH, ...'/:;=@[\\]^|']);
const QUERY = new Set([...' "#<>']);
const CONTROLS_ONLY = new Set<string>();

const utf8 = new TextEncoder();

/** `utf8_percent_encode(text, set)`: each UTF-8 byte that is a control, non-ASCII or in `set` becomes %XX. */
function percentEncode(text: string, set: Set<string>): string {
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code > 0x1f && code < 0x7f && !set.has(ch)) {
      out += ch;
      continue;
    }
    for (const byte of utf8.encode(ch)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function parseRustUrl(input: string): RustUrlResult {
  try {
    return { ok: true, serialization: parseUrl(input) };
  } catch (err) {
    if (err instanceof ParseError) return { ok: false, error: err.message };
    if (err instanceof SpecialScheme) return { ok: false, specialScheme: err.message };
    throw err;
  }
}

function parseUrl(raw: string): string {
  // Input::new_trim_c0_control_and_space, and Input's iterator skipping ASCII tab or newline everywhere.
  const chars = [...raw.replace(/^[\u0000-\u0020]+|[\u0000-\u0020]+$/g, '').replace(/[\t\n\r]/g, '')];
  let i = 0;

  // parse_scheme
  if (!/^[A-Za-z]$/.test(chars[0] ?? '')) throw new ParseError(RUST_URL_ERRORS.RelativeUrlWithoutBase);
  let scheme = '';
  for (;;) {
    const c = chars[i++];
    if (c === undefined) throw new ParseError(RUST_URL_ERRORS.RelativeUrlWithoutBase);
    if (c === ':') break;
    if (/^[a-z0-9+\-.]$/.test(c)) scheme += c;
    else if (/^[A-Z]$/.test(c)) scheme += c.toLowerCase();
    else throw new ParseError(RUST_URL_ERRORS.RelativeUrlWithoutBase);
  }
  if (SPECIAL_SCHEMES.has(scheme)) throw new SpecialScheme(scheme);
  const schemeEnd = scheme.length;
  let ser = `${scheme}:`;

  // parse_non_special
  if (chars[i] === '/' && chars[i + 1] === '/') {
    i += 2;
    ser += '//';
    // parse_userinfo: the credentials end at the LAST "@" before "/", "?" or "#".
    const beforeAuthority = ser.length;
    let lastAt = -1;
    for (let j = i; j < chars.length; j++) {
      const c = chars[j]!;
      if (c === '/' || c === '?' || c === '#') break;
      if (c === '@') lastAt = j;
    }
    if (lastAt === i) {
      const next = chars[i + 1];
      if (next === '/' || next === '?' || next === '#') throw new ParseError(RUST_URL_ERRORS.EmptyHost);
      i += 1;
    } else if (lastAt > i) {
      let usernameEnded = false;
      let hasPassword = false;
      let hasUsername = false;
      for (let j = i; j < lastAt; j++) {
        const c = chars[j]!;
        if (c === ':' && !usernameEnded) {
          usernameEnded = true;
          // "We don't add a colon if the password is empty"
          if (j + 1 < lastAt) {
            ser += ':';
            hasPassword = true;
          }
        } else {
          if (!hasPassword) hasUsername = true;
          ser += percentEncode(c, USERINFO);
        }
      }
      if (hasUsername || hasPassword) ser += '@';
      i = lastAt + 1;
    }
    const hasAuthority = ser.length !== beforeAuthority;

    // parse_host (non-special: "\" does not end it) and Host::parse_opaque_cow
    let insideBrackets = false;
    let hostText = '';
    for (; i < chars.length; i++) {
      const c = chars[i]!;
      if ((c === ':' && !insideBrackets) || c === '/' || c === '?' || c === '#') break;
      if (c === '[') insideBrackets = true;
      if (c === ']') insideBrackets = false;
      hostText += c;
    }
    const host = parseOpaqueHost(hostText);
    ser += host;
    // parse_host_and_port
    if (host === '' && chars[i] === ':') throw new ParseError(RUST_URL_ERRORS.EmptyHost);
    if (chars[i] === ':') {
      i += 1;
      let port = 0;
      let hasDigit = false;
      for (; i < chars.length; i++) {
        const c = chars[i]!;
        if (c >= '0' && c <= '9') {
          port = port * 10 + Number(c);
          if (port > 65535) throw new ParseError(RUST_URL_ERRORS.InvalidPort);
          hasDigit = true;
        } else if (!['/', '\\', '?', '#'].includes(c)) {
          throw new ParseError(RUST_URL_ERRORS.InvalidPort);
        } else break;
      }
      // A non-special scheme has no default port, so any port is kept.
      if (hasDigit) ser += `:${port}`;
    }
    if (host === '' && hasAuthority) throw new ParseError(RUST_URL_ERRORS.EmptyHost);

    // parse_path_start (non-special)
    const c = chars[i];
    if (c !== undefined && c !== '?' && c !== '#') {
      const pathStart = ser.length;
      if (c !== '/') ser += '/';
      ({ ser, i } = parsePath(chars, i, ser, pathStart));
    }
  } else if (chars[i] === '/') {
    // An "anarchist" URL: a path, no authority.
    ser += '/';
    const pathStart = ser.length - 1;
    ({ ser, i } = parsePath(chars, i + 1, ser, pathStart));
    // with_query_and_fragment: "web+demo:/.//not-a-host/" must not serialize as "web+demo://not-a-host/"
    if (pathStart === schemeEnd + 1 && ser.slice(pathStart).startsWith('//')) ser = `${ser.slice(0, pathStart)}/.${ser.slice(pathStart)}`;
  } else {
    // parse_cannot_be_a_base_path
    for (; i < chars.length && chars[i] !== '?' && chars[i] !== '#'; i++) ser += percentEncode(chars[i]!, CONTROLS_ONLY);
  }

  // parse_query_and_fragment
  if (chars[i] === '?') {
    ser += '?';
    i += 1;
    let query = '';
    for (; i < chars.length && chars[i] !== '#'; i++) query += chars[i];
    ser += percentEncode(query, QUERY);
  }
  if (chars[i] === '#') {
    ser += `#${percentEncode(chars.slice(i + 1).join(''), FRAGMENT)}`;
  }
  return ser;
}

/** Host::parse_opaque_cow: an IPv6 literal, or anything without a forbidden host code point, percent-encoded with CONTROLS. */
function parseOpaqueHost(input: string): string {
  if (input.startsWith('[')) {
    if (!input.endsWith(']')) throw new ParseError(RUST_URL_ERRORS.InvalidIpv6Address);
    return `[${ipv6(input.slice(1, -1))}]`;
  }
  if (/[\0\t\n\r #/:<>?@[\\\]^|]/.test(input)) throw new ParseError(RUST_URL_ERRORS.InvalidDomainCharacter);
  return percentEncode(input, CONTROLS_ONLY);
}

/**
 * parse_ipv6addr and its RFC 5952 serialization. Both follow the WHATWG URL Standard's IPv6 parser
 * and serializer, which Node's own URL implements: the lab borrows it for this corner.
 */
function ipv6(text: string): string {
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    throw new ParseError(RUST_URL_ERRORS.InvalidIpv6Address);
  }
}

const DOUBLE_DOT = new Set(['..', '%2e%2e', '%2e%2E', '%2E%2e', '%2E%2E', '%2e.', '%2E.', '.%2e', '.%2E']);
const SINGLE_DOT = new Set(['.', '%2e', '%2E']);

/** Parser::parse_path for a non-special, non-file URL, working on the serialization as the crate does. */
function parsePath(chars: string[], start: number, serialization: string, pathStart: number): { ser: string; i: number } {
  let ser = serialization;
  let i = start;
  for (;;) {
    const segmentStart = ser.length;
    let endsWithSlash = false;
    for (; i < chars.length; i++) {
      const c = chars[i]!;
      if (c === '/') {
        ser += '/';
        endsWithSlash = true;
        i += 1;
        break;
      }
      if (c === '?' || c === '#') break;
      ser += percentEncode(c, PATH);
    }
    const segment = endsWithSlash ? ser.slice(segmentStart, -1) : ser.slice(segmentStart);
    if (DOUBLE_DOT.has(segment)) {
      ser = ser.slice(0, segmentStart);
      if (ser.endsWith('/') && lastSlashCanBeRemoved(ser, pathStart)) ser = ser.slice(0, -1);
      // shorten_path → pop_path
      if (ser.length > pathStart) ser = ser.slice(0, pathStart + ser.slice(pathStart).lastIndexOf('/') + 1);
      if (endsWithSlash && !ser.endsWith('/')) ser += '/';
    } else if (SINGLE_DOT.has(segment)) {
      ser = ser.slice(0, segmentStart);
      if (!ser.endsWith('/')) ser += '/';
    }
    if (!endsWithSlash) return { ser, i };
  }
}

function lastSlashCanBeRemoved(ser: string, pathStart: number): boolean {
  return ser.slice(0, -1).lastIndexOf('/') >= pathStart;
}
