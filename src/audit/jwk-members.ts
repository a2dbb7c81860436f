/**
 * A JWK's private members written as JSON text, found for `secret-values.ts`: in an object (`{…}`) that has a
 * `kty` member, the base64url value of `d`, `p`, `q`, `dp`, `dq`, `qi`, `k` or `priv` (RFC 7518, RFC 8037,
 * `credential-keys.ts`) is replaced, its name and quotes kept (`"d":"[redacted]"`). Quotes may be double,
 * single (`{'kty':'RSA','d':'…'}`, as Python prints a dict) or escaped (`{\"kty\":…}`, a JWK in a JSON string).
 * A member of another object is kept, even in text that names a `kty` elsewhere (`{"d":"2026-12-07"}` beside
 * a JWKS): the members of each object are held until it closes, then replaced if it had a `kty`. An object
 * left open (text cut short) is judged by what it holds so far. Braces are counted wherever they stand, in a
 * string's value too (a JWK's members hold none). Linear: one regex scan, each member held and settled once.
 *
 * @module
 */

/** A brace, a `kty` member's name, or a private member's name and the base64url value after it. */
const JWK_TOKENS =
  /[{}]|\\?["']kty\\?["']\s*:|(\\?["'](?:d|p|q|dp|dq|qi|k|priv)\\?["']\s*:\s*\\?["'])([A-Za-z0-9_=+/-]+)/g;

/** `text` with the private members of the JWKs it writes as JSON replaced by `marker`. */
export function redactJwkMembers(text: string, marker: string): string {
  // Per open object (0: outside any), whether it has a `kty`; the members not yet settled, as (start, end,
  // depth) triples, the innermost last; the values to replace, as (start, end) pairs.
  const kty: boolean[] = [false];
  const held: number[] = [];
  const found: number[][] = [];
  let depth = 0;
  const settle = (d: number) => {
    while (held.length > 0 && held[held.length - 1] === d) {
      const end = held[held.length - 2] as number;
      const start = held[held.length - 3] as number;
      held.length -= 3;
      if (kty[d]) found.push([start, end]);
    }
  };
  for (const m of text.matchAll(JWK_TOKENS)) {
    const token = m[0];
    if (token === '{') kty[++depth] = false;
    else if (token === '}') {
      if (depth === 0) continue;
      settle(depth);
      depth--;
    } else if (m[1] === undefined) kty[depth] = true;
    else {
      const start = m.index + m[1].length;
      held.push(start, start + (m[2] as string).length, depth);
    }
  }
  for (; depth >= 0; depth--) settle(depth);
  if (found.length === 0) return text;
  found.sort((a, b) => (a[0] as number) - (b[0] as number));
  let out = '';
  let from = 0;
  for (const [start, end] of found) {
    out += `${text.slice(from, start)}${marker}`;
    from = end as number;
  }
  return out + text.slice(from);
}
