/**
 * Secrets found by their value, not their key: what the audit walk (`mask.ts`) and the logger's backstop
 * (`telemetry/log-secrets.ts`) replace in the strings they keep, whatever key or array holds them. A policy
 * may echo its input into its obligations, and a tool argument may be a connection string or a header list:
 *
 * - a URL's password (`postgres://app:s3cret@db/x` → `postgres://app:[redacted]@db/x`: scheme, user and host
 *   stay, so the record stays useful) and the values of its credential query parameters (`?access_token=`,
 *   `&sig=`, as `uri-secrets.ts` finds them); a credential's `name=value` elsewhere (libpq's `host=db
 *   password='p w'`, `DB_PASSWORD=…`, `--password=…`, `db password: x`, `--password x` (`flag-secrets.ts`), a JSON member `"password":"x"` in
 *   text: `key-value-secrets.ts`); the password of user
 *   information written without a scheme (`app:s3cret@db:5432/x`, Go's `u:pw@tcp(db:3306)/x`:
 *   `bare-userinfo.ts`; an e-mail address is kept);
 * - an HTTP credential written with its scheme (`Bearer …`, `Basic …`), whole or inside text, when it is no
 *   prose (`Basic plan`, `the bearer of this letter`): `scheme-credentials.ts`;
 * - the value of an `Authorization`, `Proxy-Authorization` or `X-Api-Key` header written as text
 *   (`Authorization: Bearer x`, `"authorization":"…"`, `X-API-KEY=…`), whatever it looks like: after the
 *   header's name it is a credential (its scheme, when a known one, is kept);
 * - a JWT (three or five base64url segments whose first decodes to a JOSE header: an object naming its `alg`);
 * - an API key of this sidecar (`<prefix>_<12 base32>_<43 base64url>`, whatever `authn.apiKeys.prefix` is);
 * - another vendor's key by its well-known shape (OpenAI, Anthropic, GitHub, AWS access key id, Slack, Google
 *   API key, Stripe), a PEM private key's body and a PuTTY key file's private lines (`vendor-keys.ts`, where
 *   the shapes are listed);
 * - in a JSON object that has a `kty`, the value of a JWK's private member (`"d":"…"`, `\"k\":\"…\"`,
 *   `'p':'…'`: `d`, `p`, `q`, `dp`, `dq`, `qi`, `k`, `priv`, an `oth` entry's `r`, `d`, `t`; `jwk-members.ts`), its base64url.
 *
 * Each is replaced by {@link REDACTED}, the marker of the key-based redaction. Strings shorter than
 * {@link MIN_SECRET_CHARS} are returned at once, and each shape is looked for only when a plain substring
 * check (for the vendors' keys, one test of their prefixes) says it may be there.
 *
 * @module
 */
import { API_KEY_MIN_CHARS, API_KEY_PATTERN } from '../authn/api-key-format.js';
import { redactBareUserInfo } from './bare-userinfo.js';
import { redactFlagSecrets } from './flag-secrets.js';
import { redactJwkMembers } from './jwk-members.js';
import { redactKeyValueSecrets } from './key-value-secrets.js';
import { hasSchemeWord, redactSchemeCredentials } from './scheme-credentials.js';
import { redactQuerySecrets, redactUserInfo } from './uri-secrets.js';
import { ESCAPE, KEY_START, KEY_START_BEHIND, redactVendorKeys } from './vendor-keys.js';

/** What a secret is replaced with (in audit records and log lines). */
export const REDACTED = '[redacted]';

/** The shortest text any shape below fits in (`Bearer x`, `a://b:c@d`). */
export const MIN_SECRET_CHARS = 8;

/**
 * A credential header's name (after an escape too: `\r\nAuthorization: …` in a JSON string), `:` or `=` (a
 * JSON member's quotes allowed, escaped too), an optional scheme and a quote after it (`Bearer "…"`, a quoted
 * token68), and the value: up to a space, quote, backslash, comma or semicolon.
 */
const HEADER_IN_TEXT = new RegExp(
  String.raw`${KEY_START}((?:(?:proxy-)?authorization|x-api-key)\\?"?\s*[:=]\s*\\?"?(?:(?:bearer|basic|token|dpop|negotiate|ntlm)\s+(?:\\?["'])?)?)[^\s"'\\,;]+`,
  'gi',
);
const HEADER_NAME = /authorization|x-api-key/i;
/** This sidecar's API key (any prefix), after no letter or digit. */
const API_KEYS_IN_TEXT = new RegExp(`(?<![A-Za-z0-9])${API_KEY_PATTERN}(?![A-Za-z0-9_-])`, 'g');
/**
 * The same right after an escape: in `q=1%0Amcpk_…` the character before the key is the escape's, not a
 * word's. Replaced first, so a prefix starts at no escape's letter (the `t` of `\tmcpk_…`) and the escape is
 * kept whole; a pattern that opens with the escape, not a lookbehind, is found by a quick scan for `\` and `%`.
 */
const API_KEYS_AFTER_ESCAPE = new RegExp(`(${ESCAPE})${API_KEY_PATTERN}(?![A-Za-z0-9_-])`, 'g');
/**
 * A JSON object's base64url starts `ey` or `ew` (`{"` is `eyJ`, `{ ` `eyA`, `{\n` `ewo`); where a key may start
 * (`KEY_START`), looked at behind those two letters: a pattern that opens with a lookbehind is tried at every
 * position of the text (~8 µs a kB), one that opens with `e` is found by a quick scan.
 */
const JWT = new RegExp(
  String.raw`(e[wy]${KEY_START_BEHIND('e[wy]')}[A-Za-z0-9_-]+)((?:\.[A-Za-z0-9_-]*){2}(?:(?:\.[A-Za-z0-9_-]*){2})?)(?![A-Za-z0-9_-])`,
  'g',
);

/** `text` with the secrets it holds (see the module comment) replaced by {@link REDACTED}. */
export function scrubSecretValue(text: string): string {
  if (text.length < MIN_SECRET_CHARS) return text;
  let out = text;
  if (hasSchemeWord(out)) {
    out = redactSchemeCredentials(out, REDACTED);
    if (out === REDACTED) return out;
  }
  if (HEADER_NAME.test(out)) {
    out = out.replace(HEADER_IN_TEXT, (_whole, name: string) => `${name}${REDACTED}`);
  }
  if (out.includes('.') && (out.includes('ey') || out.includes('ew'))) {
    out = out.replace(JWT, (whole, header: string) => (isJoseHeader(header) ? REDACTED : whole));
  }
  if (out.length >= API_KEY_MIN_CHARS && out.includes('_')) {
    out = out.replace(API_KEYS_AFTER_ESCAPE, `$1${REDACTED}`).replace(API_KEYS_IN_TEXT, REDACTED);
  }
  out = redactVendorKeys(out, REDACTED);
  if (out.includes('kty')) out = redactJwkMembers(out, REDACTED);
  if (out.includes('=')) out = redactQuerySecrets(out, REDACTED);
  if (out.includes('=') || out.includes(':')) out = redactKeyValueSecrets(out, REDACTED);
  if (out.includes('--')) out = redactFlagSecrets(out, REDACTED);
  if (out.includes('@')) {
    if (out.includes('://')) out = redactUserInfo(out, REDACTED, true);
    if (out.includes(':')) out = redactBareUserInfo(out, REDACTED);
  }
  return out;
}

/**
 * Whether a base64url segment decodes to a JOSE header: `{…}` naming its `alg`, which RFC 7515 and 7516 require
 * of every JWS and JWE. Read without `JSON.parse`: a parse that fails costs its error (~10 µs), and text made of
 * candidates that fail it one after another (`eyJ9.. ` is `{"}`) cost 14 ms per 8 kB string, 1.8 s for the
 * calls of one 1 MB request in `plain` mode. Text that only looks like JSON is taken for a header (the safe side).
 */
function isJoseHeader(segment: string): boolean {
  const text = Buffer.from(segment, 'base64url').toString('utf8').trim();
  return text.startsWith('{') && text.endsWith('}') && text.includes('"alg"');
}
