/**
 * Credentials inside resource URIs, kept out of audit records and spans. A caller may read a resource by a
 * signed URL (`s3://bucket/report.pdf?X-Amz-Signature=…`, an Azure `?sig=…`) or one with user information
 * (`https://user:password@host/…`); the record and the span keep the URI, the secret is replaced with
 * `REDACTED`, as the OpenTelemetry URL conventions ask of `url.full`. A query parameter is a secret when
 * its name names a credential (the keys the audit masks in arguments, `credential-keys.ts`) or a signature.
 *
 * @module
 */
import { isSensitiveKey } from './credential-keys.js';

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

/** `name=value` after `?`, `&` or `;`: the name ends at `=`, the value at the next separator or space. */
const QUERY_PARAM = /([?&;])([^=&;#?\s"'<>]+)=([^&;#\s"'<>]*)/g;
/** User information after a scheme's `//`, up to the `@` before the host. */
const USER_INFO = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/**
 * `text` (a URI, or a message naming one) with the secrets of the URIs in it replaced by `REDACTED`: the
 * values of credential query parameters and any user information. Text without `?`, `;` or `@` is returned
 * as it is, untouched.
 */
export function redactUriSecrets(text: string): string {
  const query = text.includes('?') || text.includes(';');
  const userInfo = text.includes('@');
  if (!query && !userInfo) return text;
  let out = text;
  if (query) {
    out = out.replace(QUERY_PARAM, (whole, sep: string, name: string, value: string) =>
      value !== '' && isSecretParam(name) ? `${sep}${name}=${REDACTED}` : whole,
    );
  }
  if (userInfo) out = out.replace(USER_INFO, `$1${REDACTED}@`);
  return out;
}

function isSecretParam(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // A malformed escape: judge the name as written.
  }
  return SIGNATURE_PARAMS.has(decoded.toLowerCase()) || isSensitiveKey(decoded);
}
