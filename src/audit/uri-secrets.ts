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
const AT = 0x40;
const COLON = 0x3a;

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
 * password (`//user:[redacted]@host`; a user without a password is kept). One pass from each `://` to the
 * end of its authority: linear.
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
    for (let i = start; i < text.length && !AUTHORITY_END.test(text.charAt(i)); i++) {
      const c = text.charCodeAt(i);
      if (c === AT) last = i;
      else if (c === COLON && colon === -1) colon = i;
    }
    if (last <= start) continue;
    if (!keepUser) out += `${text.slice(from, start)}${marker}`;
    else if (colon !== -1 && colon < last) out += `${text.slice(from, colon + 1)}${marker}`;
    else continue;
    from = last;
  }
  return from === 0 ? text : out + text.slice(from);
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
