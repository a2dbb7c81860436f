/**
 * Finding members in the text of a JSON body that JSON.parse has already read (so the text is valid JSON):
 * where a member of an object starts and ends, and how many keys the text holds. What is looked for is found
 * by skipping over everything else a character at a time, strings by their quotes, without building values:
 * linear in the body, a few milliseconds for a megabyte, where a general JSON tokenizer took tens.
 *
 * @module
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A member of an object in the text: its key (decoded) and where `"key": value` starts and ends. */
export interface MemberSpan {
  readonly key: string;
  readonly start: number;
  readonly end: number;
  /** Where its value starts. */
  readonly value: number;
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(t: string, i: number): number {
  while (i < t.length && isSpace(t.charCodeAt(i))) i++;
  return i;
}

/** The index after the string whose opening quote is at `i`. */
function skipString(t: string, i: number): number {
  let q = t.indexOf('"', i + 1);
  while (q !== -1) {
    let slashes = 0;
    while (t.charCodeAt(q - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return q + 1;
    q = t.indexOf('"', q + 1);
  }
  return t.length;
}

/** The index after the value starting at `i` (after any space). */
export function skipValue(t: string, i: number): number {
  let at = skipSpace(t, i);
  const c = t.charCodeAt(at);
  if (c === QUOTE) return skipString(t, at);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    // A number or a literal: up to the next delimiter.
    while (at < t.length) {
      const d = t.charCodeAt(at);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) break;
      at++;
    }
    return at;
  }
  let depth = 0;
  while (at < t.length) {
    const d = t.charCodeAt(at);
    if (d === QUOTE) {
      at = skipString(t, at);
      continue;
    }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return at + 1;
    at++;
  }
  return at;
}

/** The members of the object at `i` (after any space), or undefined when the value there is no object. */
export function objectMembers(t: string, i: number): MemberSpan[] | undefined {
  let at = skipSpace(t, i);
  if (t.charCodeAt(at) !== OPEN_BRACE) return undefined;
  const members: MemberSpan[] = [];
  at = skipSpace(t, at + 1);
  while (at < t.length && t.charCodeAt(at) === QUOTE) {
    const start = at;
    const keyEnd = skipString(t, at);
    const raw = t.slice(start + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(t.slice(start, keyEnd)) as string) : raw;
    const value = skipSpace(t, skipSpace(t, keyEnd) + 1); // past the colon
    const end = skipValue(t, value);
    members.push({ key, start, end, value });
    at = skipSpace(t, end);
    if (t.charCodeAt(at) === COMMA) at = skipSpace(t, at + 1);
  }
  return members;
}

/** Where each element of the array at `i` (after any space) starts, or undefined for no array. */
export function arrayElements(t: string, i: number): number[] | undefined {
  let at = skipSpace(t, i);
  if (t.charCodeAt(at) !== OPEN_BRACKET) return undefined;
  const starts: number[] = [];
  at = skipSpace(t, at + 1);
  while (at < t.length && t.charCodeAt(at) !== CLOSE_BRACKET) {
    starts.push(at);
    at = skipSpace(t, skipValue(t, at));
    if (t.charCodeAt(at) === COMMA) at = skipSpace(t, at + 1);
  }
  return starts;
}

/** How many keys the text's objects hold: its colons outside strings. */
export function keysInText(t: string): number {
  let keys = 0;
  for (let at = 0; at < t.length; at++) {
    const c = t.charCodeAt(at);
    if (c === QUOTE) at = skipString(t, at) - 1;
    else if (c === COLON) keys++;
  }
  return keys;
}

const MINUS = 0x2d;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
/**
 * True for a number beyond ±(2^53 − 1): JSON.parse may have rounded its literal (beyond 2^53 a double does not
 * hold every integer).
 */
export const beyondSafe = (n: number): boolean => n > Number.MAX_SAFE_INTEGER || n < -Number.MAX_SAFE_INTEGER;

/**
 * The first integer literal of the text (no fraction, no exponent) that a double does not hold exactly, as
 * written; undefined when every one is exact. Strings are skipped, so digits in them are never taken for one.
 */
export function roundedInteger(t: string): string | undefined {
  let found: string | undefined;
  replaceNumbers(t, (literal) => {
    // Sixteen digits or more: every integer of fifteen is below 2^53.
    if (found === undefined && literal.length >= 16 && /^-?\d+$/.test(literal)) {
      if (BigInt(literal) !== BigInt(Number(literal))) found = literal;
    }
    return literal;
  });
  return found;
}

/**
 * `t` with each number outside its strings replaced by `replace(token)`, where that differs from the token
 * (`t` itself when it differs for none). Keys and literals hold no number, so each `-` or digit outside a
 * string starts one.
 */
export function replaceNumbers(t: string, replace: (token: string) => string): string {
  let out = '';
  let from = 0;
  for (let at = 0; at < t.length; at++) {
    const c = t.charCodeAt(at);
    if (c === QUOTE) at = skipString(t, at) - 1;
    else if (c === MINUS || isDigit(c)) {
      const end = skipValue(t, at);
      const token = t.slice(at, end);
      const next = replace(token);
      if (next !== token) {
        out += t.slice(from, at) + next;
        from = end;
      }
      at = end - 1;
    }
  }
  return from === 0 ? t : out + t.slice(from);
}

/**
 * The text of `after`, a rewrite of the value `before` that JSON.parse read from `t`. When both are arrays (a
 * batch), each element of `after` that is an element of `before` (the same object: unchanged) keeps its own
 * text, so its spelling and its numbers beyond 2^53 stay as written; only the others are serialised.
 */
export function rewrittenText(t: string, before: unknown, after: unknown): string {
  if (!Array.isArray(before) || !Array.isArray(after)) return JSON.stringify(after);
  const starts = arrayElements(t, 0) ?? [];
  const at = new Map<unknown, number>();
  before.forEach((m, i) => {
    const start = starts[i];
    if (typeof m === 'object' && m !== null && start !== undefined) at.set(m, start);
  });
  const parts = after.map((m) => {
    const start = at.get(m);
    return start === undefined ? JSON.stringify(m) : t.slice(start, skipValue(t, start));
  });
  return `[${parts.join(',')}]`;
}
