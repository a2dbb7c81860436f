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
  return encodeURIComponent(part ?? '').replace(/\*/g, '%2A');
}

/** Inverse of `encodePart`; throws `URIError` on malformed input. */
export function decodePart(text: string): string {
  return decodeURIComponent(text);
}
