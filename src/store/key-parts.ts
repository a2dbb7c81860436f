/**
 * Encoding of identity parts (tenant, subject, tool, rule name) where several are joined into one store
 * key or block value. Each part is percent-encoded (`encodeURIComponent`, plus `*`), so the separators
 * `/`, `:` and `|` and the wildcard `*` never occur inside a part: `acme/x` + `y` cannot collide with
 * `acme` + `x/y`, and a tenant literally named `*` cannot pose as "any tenant". Ordinary names
 * (`acme`, `svc-ci`, `alice@example.com` → `alice%40example.com`) stay readable.
 *
 * @module
 */

/** One part, safe to join with `/`, `:` or `|`. null and '' both encode as ''. */
export function encodePart(part: string | null | undefined): string {
  if (part === null || part === undefined) return '';
  // Most parts (tenants, subjects, tool names) need no escaping: skip the encode and the replace.
  if (UNRESERVED.test(part)) return part;
  return encodeURIComponent(part).replace(/\*/g, '%2A');
}

/** Characters `encodeURIComponent` leaves alone, minus `*` (which `encodePart` escapes too). */
const UNRESERVED = /^[A-Za-z0-9\-_.!~'()]*$/;

/** Inverse of `encodePart`; throws `URIError` on malformed input. */
export function decodePart(text: string): string {
  return decodeURIComponent(text);
}
