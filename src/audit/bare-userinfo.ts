/**
 * Passwords in connection strings written without a scheme, as DSNs and config values often are:
 * `app:s3cret@db.internal:5432/sales`, Go's `user:pass@tcp(db:3306)/app` or `user:pass@/app`, Redis's
 * `:pass@cache:6379`. The password is replaced, user and host stay (`app:[redacted]@db.internal:5432/sales`),
 * as `uri-secrets.ts` does for `scheme://user:pass@host`.
 *
 * Text is full of `x:y@z` that holds no password, so a candidate must have all of:
 * - user information: a word (no space, quote, backtick or `<>`) holding a `:` with something after it before
 *   the `@`; a user part that is a scheme whose URIs name a user without `//` (`mailto:alice@…`,
 *   `sip:alice@…`) does not count as one (`sip:alice:pw@…` does);
 * - then a host followed by a port (`:5432`: 1 to 5 digits, so no image digest `@sha256:0b1c…`), a path
 *   (`/`), or a Go DSN's protocol (`tcp(`, `unix(`); or the `/` of Go's `user:pass@/db`. An e-mail address
 *   (`alice@example.com`, `Note:alice@example.com`) has none;
 * - no time before the `@` (`at 10:30@home/office`, `2026-12-07T10:30:00Z@host/x`), and not in a URL's
 *   authority (its user information is `redactUserInfo`'s): after the authority's end (`/`, `?`, `#`), what
 *   follows is read as a word (`https://h.example/cb?dsn=u:pw@db:5432/x`).
 *
 * Several `@` in one word: the password runs to the last one followed by a host (a password may hold `@`).
 * One pass: each character is read once by the word scan and at most once more by the host check after an
 * `@` (each check stops at the next character no host holds, `@` included).
 *
 * @module
 */
import { isDigit } from './name-runs.js';

const COLON = 0x3a;
const SLASH = 0x2f;
const OPEN_PAREN = 0x28;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Schemes whose URIs name a user with no `//` (RFC 6068, 3261, 5122): their `x:` is no user. */
const USER_SCHEMES: ReadonlySet<string> = new Set(['mailto', 'sip', 'sips', 'xmpp', 'im', 'pres']);
const USER_SCHEME_MAX = 6;
/**
 * `10:30`, `9:05:59` or an ISO 8601 date and time (`2026-12-07T10:30:00.123Z`, `…+01:00`) before an `@`: a
 * time (`at 10:30@home/office`, a log line's `2026-12-07T10:30:00Z@worker-1:8080/q`), no user information.
 */
const CLOCK_TIME =
  /^(?:\d{4}-?\d{2}-?\d{2}[Tt])?\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const CLOCK_TIME_MAX = 40;
/** A port's longest run of digits. */
const PORT_MAX_DIGITS = 5;

/** `text` with the password of each scheme-less user information (see the module comment) replaced by `marker`. */
export function redactBareUserInfo(text: string, marker: string): string {
  let out = '';
  let from = 0;
  // The word being read (after a URL's authority, what follows it): where it starts, its first two `:`,
  // whether its first names a scheme like `mailto`, whether a URL's authority is being read.
  let start = 0;
  let first = -1;
  let second = -1;
  let scheme = false;
  let authority = false;
  // The `:` and the `@` around the password to redact when the word ends; -1: none.
  let colon = -1;
  let at = -1;
  const flush = () => {
    if (at === -1) return;
    out += `${text.slice(from, colon + 1)}${marker}`;
    from = at;
    at = -1;
  };
  let i = 0;
  for (let a = text.indexOf('@'); a !== -1; a = text.indexOf('@', a + 1)) {
    for (; i < a; i++) {
      const c = text.charCodeAt(i);
      if (endsWord(c) || (authority && endsAuthority(c))) {
        if (!authority) flush();
        start = i + 1;
        first = second = -1;
        scheme = authority = false;
      } else if (authority) {
        // A URL's user information is `redactUserInfo`'s.
      } else if (c === COLON && text.startsWith('//', i + 1)) {
        authority = true;
        i += 2;
      } else if (c === COLON) {
        if (first === -1) {
          first = i;
          scheme = isUserScheme(text, start, i);
        } else if (second === -1) second = i;
      }
    }
    i = a + 1;
    if (authority || first === -1) continue;
    const sep = scheme ? second : first;
    if (sep === -1 || sep + 1 >= a || !hostFollows(text, a + 1) || isClockTime(text, start, a)) continue;
    colon = sep;
    at = a;
  }
  flush();
  return from === 0 ? text : out + text.slice(from);
}

/** Whitespace (and control characters), quotes, a backtick, `<` or `>`: no password written bare holds one. */
function endsWord(c: number): boolean {
  return c <= 0x20 || c === 0x22 || c === 0x27 || c === 0x60 || c === 0x3c || c === 0x3e || c === 0x7f;
}

/** The end of a URL's authority: what follows it is read as a word of its own (`…/cb?dsn=u:pw@db:5432/x`). */
function endsAuthority(c: number): boolean {
  return c === SLASH || c === 0x3f || c === 0x23;
}

function isUserScheme(text: string, start: number, colon: number): boolean {
  return colon - start <= USER_SCHEME_MAX && USER_SCHEMES.has(text.slice(start, colon).toLowerCase());
}

function isClockTime(text: string, start: number, at: number): boolean {
  return at - start <= CLOCK_TIME_MAX && CLOCK_TIME.test(text.slice(start, at));
}

/** A host name's characters (letters, digits, `.`, `-`, `_`). */
function isHostChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    isDigit(c) ||
    c === 0x2e ||
    c === 0x2d ||
    c === 0x5f
  );
}

/**
 * Whether a port starts at `p`: 1 to 5 digits, then no letter or digit. A digest is no port: in an image
 * reference (`nginx:1.25@sha256:0b1c…`) the tag before the `@` is no password.
 */
function isPort(text: string, p: number): boolean {
  let q = p;
  while (q - p <= PORT_MAX_DIGITS && isDigit(text.charCodeAt(q))) q++;
  if (q === p || q - p > PORT_MAX_DIGITS) return false;
  const c = text.charCodeAt(q) | 0x20; // lower case, for a letter
  return !(c >= 0x61 && c <= 0x7a);
}

/** Whether what starts at `p` (just after an `@`) is a host and a port or path, or a Go DSN's protocol. */
function hostFollows(text: string, p: number): boolean {
  let q = p;
  if (text.charCodeAt(q) === OPEN_BRACKET) {
    // An IPv6 literal: `[fd00::1]:5432`.
    q++;
    while (q < text.length && (isHostChar(text.charCodeAt(q)) || text.charCodeAt(q) === COLON)) q++;
    if (text.charCodeAt(q) !== CLOSE_BRACKET) return false;
    q++;
  } else {
    while (q < text.length && isHostChar(text.charCodeAt(q))) q++;
  }
  const c = text.charCodeAt(q);
  if (c === SLASH) return true;
  if (q === p) return false;
  if (c === COLON) return isPort(text, q + 1);
  // `tcp(…)`: a protocol is a name, not a dotted host.
  return c === OPEN_PAREN && !text.slice(p, q).includes('.');
}
