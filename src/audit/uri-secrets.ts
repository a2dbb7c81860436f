/**
 * Credentials inside resource URIs, kept out of audit records and spans. A caller may read a resource by a
 * signed URL (`s3://bucket/report.pdf?X-Amz-Signature=…`, an Azure `?sig=…`) or one with user information
 * (`https://user:password@host/…`); the record and the span keep the URI, the secret is replaced with
 * `REDACTED`, as the OpenTelemetry URL conventions ask of `url.full`. A query parameter is a secret when
 * its name names a credential (the keys the audit masks in arguments, `credential-keys.ts`) or a signature.
 *
 * @module
 */
import { cutText } from '../cut-text.js';
import { isSensitiveKey, MAX_CREDENTIAL_NAME_CHARS } from './credential-keys.js';
import { isDigit } from './name-runs.js';

/** Query parameters that carry a signature or a cloud credential (compared lower-cased). */
const SIGNATURE_PARAMS: ReadonlySet<string> = new Set([
  'sig',
  'signature',
  'x-amz-signature',
  'x-goog-signature',
  'awsaccesskeyid',
]);

/** What a secret is replaced with. */
export const REDACTED = 'REDACTED';

/**
 * `name=value` after `?`, `&`, `;` or `#` (an OAuth redirect's `#access_token=…`): the name ends at `=`, the value at the next separator or space. Linear:
 * a match starts only at a separator, and neither part can hold one.
 */
const QUERY_PARAM = /([?&;#])([^=&;#?\s"'<>]+)=([^&;#\s"'<>]*)/g;
/** A character that ends an authority (after `://`). */
const AUTHORITY_END = /[/?#\s"'<>]/;
/** A character that ends a URL written in text. */
const URL_END = /[\s"'<>]/;
const AT = 0x40;
const COLON = 0x3a;
const SLASH = 0x2f;
const QUESTION = 0x3f;
const HASH = 0x23;
const OPEN_BRACKET = 0x5b;
/** A scale after an image's name (`2x.`, `1.5x.`), as a file written for high-density screens is named. */
const SCALE_SUFFIX = /\d{1,2}(?:\.\d{1,2})?x\./y;

/**
 * `text` (a URI, or a message naming one) with the secrets of the URIs in it replaced by `REDACTED`: the
 * values of credential query (or fragment) parameters and any user information. Text without `?`, `;`, `#` or
 * `@` is returned as it is, untouched.
 */
export function redactUriSecrets(text: string): string {
  const out = redactQuerySecrets(text, REDACTED);
  return out.includes('@') ? redactUserInfo(out, REDACTED, false) : out;
}

/**
 * `text` with the values of its credential query (or fragment) parameters replaced by `marker`; text without
 * `?`, `;` or `#` is returned as it is.
 */
export function redactQuerySecrets(text: string, marker: string): string {
  if (!text.includes('?') && !text.includes(';') && !text.includes('#')) return text;
  return text.replace(QUERY_PARAM, (whole, sep: string, name: string, value: string) =>
    value !== '' && isSecretParam(name) ? `${sep}${name}=${marker}` : whole,
  );
}

/**
 * Each authority's user information replaced by `marker`, up to its last `@` as a URL parser reads it (a
 * password may hold `@`): all of it (`//user:pass@host` → `//REDACTED@host`), or with `keepUser` only the
 * password (`//user:[redacted]@host`; a user without a password is kept). A password that holds `/`, `?` or
 * `#` unescaped ends the authority early (`//u:pa/ss@host` reads as host `u`, port `pa`): when what follows
 * the authority's `:` is no port and an `@` comes later in the same word, the password runs to that `@` (the
 * last one before the next `/`, `?` or `#`); when it is a port (digits or none), an `@` ends a password
 * of digits, `/`, `?` and `#` only (`//u:12/34/56@h/`, `//u:12?34@h/`, `//u:/12@h/`; a letter makes it a path:
 * `//localhost:8080/a@b`), and only after a user with no `.` (a dotted name, or `localhost`, is a host with its port). One pass from each `://` to the end of its authority, or to the
 * end of its word and at most the next `://`: linear.
 */
export function redactUserInfo(text: string, marker: string, keepUser: boolean): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('://'); at !== -1; at = text.indexOf('://', at + 3)) {
    const start = at + 3;
    // The scan stops at the authority's end, at the latest the `/` of the next `://`: each character is
    // looked at once.
    let last = -1;
    let colon = -1;
    let bracket = false;
    let end = start;
    for (; end < text.length && !AUTHORITY_END.test(text.charAt(end)); end++) {
      const c = text.charCodeAt(end);
      if (c === AT) last = end;
      else if (c === COLON && colon === -1) colon = end;
      else if (c === OPEN_BRACKET && colon === -1) bracket = true; // an IPv6 host's `:` is no password's
    }
    if (last === -1 && colon !== -1 && !bracket)
      last = isPort(text, colon + 1, end) ? numericPasswordEnd(text, start, colon) : passwordEnd(text, end);
    if (last <= start) continue;
    if (!keepUser) out += `${text.slice(from, start)}${marker}`;
    else if (colon !== -1 && colon < last) out += `${text.slice(from, colon + 1)}${marker}`;
    else continue;
    from = last;
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Whether `text` from `from` to `to` is a port: digits only, or nothing (`http://h:/`). */
function isPort(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * The `@` that ends a password holding `/`, `?` or `#`, read from `from` (where the authority seemed to end)
 * to the end of the word or the next `://`: the first `@`, then the last before the next `/`, `?` or `#`
 * (the host's end); -1 for none.
 */
function passwordEnd(text: string, from: number): number {
  let found = -1;
  for (let i = from; i < text.length && !URL_END.test(text.charAt(i)); i++) {
    const c = text.charCodeAt(i);
    if (c === AT) found = i;
    else if (c === COLON && text.startsWith('//', i + 1)) break;
    else if (found !== -1 && AUTHORITY_END.test(text.charAt(i))) break;
  }
  return found;
}

/**
 * The `@` that ends a password of digits a URL parser reads as a port and what follows it (`//u:12/34/56@h/`,
 * `//u:12?34@h/`, `//u:/12@h/`: host `u`, port `12` or none): the last `@` of the run of digits, `/`, `?`, `#`
 * and `@` after the `:`, when a digit stands before it, whatever separators come between (`//u:1234/@h/`,
 * `//u:1234//@h/`, `//u:12/34/@h/`; so `//h:3000/@me` and `//h:3000/2024/@me` are taken for one: a path of
 * digits cannot be told from such a password), and a host after it; -1 for none. A letter ends the run, so a path is no password (`//h:8080/a@b`), and a
 * dotted name or `localhost` before the `:` is a host with its port (`//api.example:8443/1@b`,
 * `//localhost:3000/@me`), not a user. The run holds no
 * `:`, so it stops before the next `://`.
 */
function numericPasswordEnd(text: string, start: number, colon: number): number {
  const user = text.slice(start, colon);
  // `localhost` is a host with its port, as a dotted name is (`http://localhost:5173/@vite/client`).
  if (user.includes('.') || user.toLowerCase() === 'localhost') return -1;
  let found = -1;
  let digit = -1;
  for (let i = colon + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === AT) found = i;
    else if (isDigit(c)) {
      if (digit === -1) digit = i;
    } else if (c !== SLASH && c !== QUESTION && c !== HASH) break;
  }
  // A digit before the `@`, whatever separators stand around it (`//u:1234//@h/`, `//u:12/34/@h/`).
  if (found === -1 || digit === -1 || digit > found) return -1;
  const after = text.charCodeAt(found + 1);
  // An image's scale in its file's name (`/12@2x.png`, `/icon@1.5x.webp`): a path, no host.
  SCALE_SUFFIX.lastIndex = found + 1;
  if (SCALE_SUFFIX.test(text)) return -1;
  return isDigit(after) || isLetter(after) || after === OPEN_BRACKET ? found : -1;
}

function isLetter(c: number): boolean {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

/**
 * Caller-chosen text for a record, span or report (a tool name, a URI, a reason naming one), its URIs'
 * secrets redacted first, then cut to `max`: cut first, a long password loses the `@` that marks it.
 */
export function redactAndCut(text: string, max: number): string {
  return cutText(redactUriSecrets(text), max);
}

function isSecretParam(name: string): boolean {
  // A longer name is text, not a parameter's name: read word by word it would cost ~0.5 s per MiB.
  if (name.length > MAX_CREDENTIAL_NAME_CHARS) return false;
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // A malformed escape: judge the name as written.
  }
  return SIGNATURE_PARAMS.has(decoded.toLowerCase()) || isSensitiveKey(decoded);
}
