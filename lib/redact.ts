// The one redactor: whatever the console shows, logs or stores that may have come near a secret
// (an AWS or driver error, a command's output, a connection string) goes through here first.
// A leaf: it imports nothing, so the store and every layer above it can use it.

const MASK = '****';

// scheme://user:PASSWORD@ — the password runs to the LAST "@": it may itself hold "@", "/" or "#",
// which is exactly when URL parsers disagree about where it ends (docs/backend-url-parsing.md).
const URL_PASSWORD_IN_TEXT = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)\S*@/gi;
const URL_PASSWORD_WHOLE = /^(\s*[a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[\s\S]*@/i;

/**
 * Replaces each known secret, a URL's password, and `password=...`-shaped text. Runs on the whole
 * text: callers cut it short only afterwards (`shorten`), so no secret survives in part across a cut.
 */
export function redact(text: string, secrets: readonly (string | null | undefined)[] = []): string {
  let out = text;
  // Longest first, so a secret that contains another is replaced whole.
  for (const s of secrets.filter((x): x is string => !!x).sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return (
    out
      .replace(URL_PASSWORD_IN_TEXT, `$1${MASK}@`)
      // "password": "...", password=..., PGPASSWORD=...: whatever a backend or tool prints about one.
      .replace(/((?:pass(?:word|wd)?|pwd)["']?\s*[:=]\s*["']?)[^"'\s&,;}]+/gi, `$1${MASK}`)
  );
}

/** One line of at most `max` characters; call it on text that was already redacted. */
export function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** A connection URL with everything between "user:" and the last "@" masked, whatever it holds. */
export function maskUrlPassword(url: string): string {
  return url.replace(URL_PASSWORD_WHOLE, `$1${MASK}@`);
}
