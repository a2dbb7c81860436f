/**
 * A JWK's private members written as JSON text, found for `secret-values.ts`: in an object (`{…}`) that has a
 * `kty` member, the value of `d`, `p`, `q`, `dp`, `dq`, `qi`, `k` or `priv` (RFC 7518, RFC 8037,
 * `credential-keys.ts`; its base64url, the whole string) is replaced, its name and quotes kept (`"d":"[redacted]"`). Quotes may be double,
 * single (`{'kty':'RSA','d':'…'}`, as Python prints a dict; a bytes value too, `'d': b'…'` or `b"…"`) or escaped (`{\"kty\":…}`, a JWK in a JSON string).
 * A member of another object is kept, even in text that names a `kty` elsewhere (`{"d":"2026-12-07"}` beside
 * a JWKS): the members of each object are held until it closes, then replaced if it had a `kty`. The entries
 * of a multi-prime RSA key's `oth` (`r`, `d`, `t`: a prime and its exponents) are the key's: their members are
 * settled with it, not as objects of their own (which have no `kty`). An object
 * left open (text cut short) is judged by what it holds so far. Inside an object, strings are read whole, so a
 * brace in one is text (`"kid":"a}b"`); a quote where JSON opens no string (after no `{`, `[`, `,` or `:`:
 * `{Bob's key, …}`) is no string's. Outside any object, braces and members are looked for, not strings (an
 * apostrophe there is prose's). Linear: a string is read only where one opens, and once (a quote that opens
 * none is passed alone, not read as a string to its end), each member held and settled once.
 *
 * @module
 */

/**
 * Outside any object: a brace, a `kty` or `oth` member's name, or a private member's name (an `oth` entry's `r`
 * and `t` too) and the base64url value after it (members written without their braces, text cut short).
 */
const OUTSIDE =
  /[{}]|\\?["'](kty|oth)\\?["']\s*:|(\\?["'](?:d|p|q|dp|dq|qi|k|priv|r|t)\\?["']\s*:\s*\\?["'])([A-Za-z0-9_=+/-]+)/g;
/**
 * Inside an object: a brace, a `:`, or where a string may open: `"`, `'` (a Python bytes' `b'…'` or `b"…"`
 * too) or `\"` (a JSON string's). Only the opening is found here: a string is read ({@link STRING}) only
 * where JSON opens one, so a quote that opens none costs its own characters, not a read to the next quote.
 */
const INSIDE = /[{}:]|b?["']|\\"/g;
/**
 * A string from its quote, with backslash escapes; its braces are text. Read as runs of what no quote or
 * backslash is, an escape between them: one way to read it, no backtracking, and no way to fail (left open,
 * it runs to the end, a lone backslash there too; a `\"` string ends at a bare `"`, which none holds).
 */
const STRING: Readonly<Record<string, RegExp>> = {
  '"': /"[^"\\]*(?:\\[\s\S][^"\\]*)*(?:"|\\?$)/y,
  "'": /'[^'\\]*(?:\\[\s\S][^'\\]*)*(?:'|\\?$)/y,
  '\\': /\\"[^"\\]*(?:\\[^"][^"\\]*)*(?:\\"|\\?(?="|$))/y,
};
const PRIVATE: ReadonlySet<string> = new Set(['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'priv', 'r', 't']);
/** The longest name looked for (`priv`): a longer string is no member's name to remember. */
const MAX_NAME_CHARS = 4;
/** What may stand before a string's opening quote in JSON or a Python dict (spaces between). */
const STRING_OPENS = '{[,:';

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
  // Inside an object: the last string (a member's name, when a `:` follows it) and where the value after
  // that `:` may start; -1 for none.
  let name: string | undefined;
  let valueFrom = -1;
  for (let at = 0; at < text.length; ) {
    const re = depth === 0 ? OUTSIDE : INSIDE;
    re.lastIndex = at;
    const m = re.exec(text);
    if (m === null) break;
    const token = m[0];
    at = m.index + token.length;
    if (token === '{') {
      othEntry[++depth] = oth[depth - 1] === true;
      kty[depth] = false;
      oth[depth] = false;
      from[depth] = held.length;
      name = undefined;
    } else if (token === '}') {
      if (depth === 0) continue;
      settle(depth);
      depth--;
      name = undefined;
    } else if (depth === 0) {
      if (m[1] === 'kty') kty[0] = true;
      else if (m[1] === 'oth') oth[0] = true;
      else {
        const start = m.index + (m[2] as string).length;
        held.push(start, start + (m[3] as string).length);
      }
    } else if (token === ':') {
      if (name === 'kty') kty[depth] = true;
      else if (name === 'oth') oth[depth] = true;
      valueFrom = name !== undefined && PRIVATE.has(name) ? at : -1;
      name = undefined;
    } else if (!opensString(text, m.index)) {
      // A quote in text that is no JSON's: no string, and only the quote is passed.
    } else {
      const quoteAt = m.index + (token.charCodeAt(0) === 0x62 ? 1 : 0); // after a bytes' `b`
      const string = STRING[text.charAt(quoteAt)] as RegExp;
      string.lastIndex = quoteAt;
      const read = (string.exec(text) as RegExpExecArray)[0];
      at = quoteAt + read.length;
      const [start, end] = contentOf(text.slice(m.index, at), m.index);
      if (valueFrom !== -1 && onlySpaces(text, valueFrom, m.index)) {
        if (end > start) held.push(start, end);
      } else name = end - start <= MAX_NAME_CHARS ? text.slice(start, end) : undefined;
      valueFrom = -1;
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

/** Whether a string may open at `at`: after `{`, `[`, `,` or `:`, spaces between. */
function opensString(text: string, at: number): boolean {
  let i = at;
  while (i > 0 && isSpace(text.charCodeAt(i - 1))) i--;
  return i > 0 && STRING_OPENS.includes(text.charAt(i - 1));
}

/** What a string token at `at` holds, without its quotes (a closing one may be missing: text cut short). */
function contentOf(token: string, at: number): [number, number] {
  const open = token.startsWith('\\') || token.startsWith('b') ? 2 : 1;
  const quote = token.slice(open - 1, open);
  const close = token.startsWith('\\') ? '\\"' : quote;
  const closed = token.length >= open + close.length && token.endsWith(close);
  return [at + open, at + token.length - (closed ? close.length : 0)];
}

function onlySpaces(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (!isSpace(text.charCodeAt(i))) return false;
  return true;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}
