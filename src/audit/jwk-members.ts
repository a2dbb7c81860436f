/**
 * A JWK's private members written as JSON text, found for `secret-values.ts`: in an object (`{…}`) that has a
 * `kty` member, the base64url value of `d`, `p`, `q`, `dp`, `dq`, `qi`, `k` or `priv` (RFC 7518, RFC 8037,
 * `credential-keys.ts`) is replaced, its name and quotes kept (`"d":"[redacted]"`). Quotes may be double,
 * single (`{'kty':'RSA','d':'…'}`, as Python prints a dict) or escaped (`{\"kty\":…}`, a JWK in a JSON string).
 * A member of another object is kept, even in text that names a `kty` elsewhere (`{"d":"2026-12-07"}` beside
 * a JWKS): the members of each object are held until it closes, then replaced if it had a `kty`. The entries
 * of a multi-prime RSA key's `oth` (`r`, `d`, `t`: a prime and its exponents) are the key's: their members are
 * settled with it, not as objects of their own (which have no `kty`). An object
 * left open (text cut short) is judged by what it holds so far. Braces are counted wherever they stand, in a
 * string's value too (a JWK's members hold none). Linear: one regex scan, each member held and settled once.
 *
 * @module
 */

/**
 * A brace, a `kty` or `oth` member's name, or a private member's name (an `oth` entry's `r` and `t` too) and the
 * base64url value after it.
 */
const JWK_TOKENS =
  /[{}]|\\?["'](kty|oth)\\?["']\s*:|(\\?["'](?:d|p|q|dp|dq|qi|k|priv|r|t)\\?["']\s*:\s*\\?["'])([A-Za-z0-9_=+/-]+)/g;

/** `text` with the private members of the JWKs it writes as JSON replaced by `marker`. */
export function redactJwkMembers(text: string, marker: string): string {
  // Per open object (0: outside any): whether it has a `kty`, whether it has an `oth` member, whether it is an
  // entry of its parent's `oth` (RFC 7518 §6.3.2.7: `r`, `d`, `t` of another prime, as private as `p`), and
  // where its members start in `held`: the members not yet settled, as (start, end) pairs. An object's members
  // are replaced when it closes with a `kty`, and dropped without one, unless it is an `oth` entry: then they
  // are its parent's to settle. The values to replace, as (start, end) pairs.
  const kty: boolean[] = [false];
  const oth: boolean[] = [false];
  const othEntry: boolean[] = [false];
  const from: number[] = [0];
  const held: number[] = [];
  const found: number[] = [];
  let depth = 0;
  const settle = (d: number) => {
    const first = from[d] as number;
    if (kty[d]) for (let i = first; i < held.length; i++) found.push(held[i] as number);
    if (kty[d] || !othEntry[d]) held.length = first;
  };
  for (const m of text.matchAll(JWK_TOKENS)) {
    const token = m[0];
    if (token === '{') {
      othEntry[++depth] = oth[depth - 1] === true;
      kty[depth] = false;
      oth[depth] = false;
      from[depth] = held.length;
    } else if (token === '}') {
      if (depth === 0) continue;
      settle(depth);
      depth--;
    } else if (m[1] === 'kty') kty[depth] = true;
    else if (m[1] === 'oth') oth[depth] = true;
    else {
      const start = m.index + (m[2] as string).length;
      held.push(start, start + (m[3] as string).length);
    }
  }
  for (; depth >= 0; depth--) settle(depth);
  if (found.length === 0) return text;
  const pairs: [number, number][] = [];
  for (let i = 0; i < found.length; i += 2) pairs.push([found[i] as number, found[i + 1] as number]);
  pairs.sort((a, b) => a[0] - b[0]);
  let out = '';
  let at = 0;
  for (const [start, end] of pairs) {
    out += `${text.slice(at, start)}${marker}`;
    at = end;
  }
  return out + text.slice(at);
}
