// Where a person is sent after signing in: only somewhere inside the console. The value arrives in a
// URL anyone can craft, so it is parsed the way browsers parse it (the WHATWG URL parser) against the
// console's own origin; anything that would leave the origin, or that browsers, proxies and servers
// could read differently (control characters, backslashes, encoded slashes), becomes "/". The result
// is ASCII only, so it is always a valid Location header value.

/** Stands in for the console's origin when NEXTAUTH_URL is not set (development). */
const PLACEHOLDER_ORIGIN = 'http://console.invalid';
const MAX_LENGTH = 2048;
/** Raw or percent-encoded control characters, backslashes, and encoded "/" or "\": no console path has them. */
const SUSPICIOUS = /[\u0000-\u001f\u007f\\]|%(?:[01][0-9a-f]|7f|2f|5c)/i;
const SCHEME = /^[a-z][a-z0-9+.-]*:/i;

function originOf(url: string | undefined): string {
  if (!url) return PLACEHOLDER_ORIGIN;
  try {
    const { origin } = new URL(url);
    return origin === 'null' ? PLACEHOLDER_ORIGIN : origin;
  } catch {
    return PLACEHOLDER_ORIGIN;
  }
}

/**
 * A path on the console (`/environments/production?x=1#y`) for a return value that is either a path
 * or an absolute URL on `origin` (default: NEXTAUTH_URL's); "/" for anything else.
 */
export function safeReturnPath(value: unknown, origin: string | undefined = process.env.NEXTAUTH_URL): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_LENGTH || SUSPICIOUS.test(value)) return '/';
  if (!value.startsWith('/') && !SCHEME.test(value)) return '/';
  const base = originOf(origin);
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    return '/';
  }
  if (url.origin !== base) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  // "/.//evil.example" normalises to "//evil.example", which a browser reads as another host.
  if (!path.startsWith('/') || path.startsWith('//')) return '/';
  return path;
}
