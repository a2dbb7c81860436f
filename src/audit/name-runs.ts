/**
 * A pair's name read back from its `=` or `:` for `key-value-secrets.ts` (and a flag's name read forward for
 * `flag-secrets.ts`): the run of name characters, a path's indices between them, and whether a flag ends at
 * an `=` whose value is a pair of its own. Each read is bounded by {@link MAX_RUN_CHARS}.
 *
 * @module
 */
import { MAX_CREDENTIAL_NAME_CHARS } from './credential-keys.js';

/** What may stand before a name: a word's start. */
export const WORD_OPENS = ' \t\r\n\f\v"\'`(,{[';
/** A name starts with a letter or `_`. */
export const NAME_START = /^[A-Za-z_]/;
/** The longest run read back: a name, an escape's characters before it (`u0020`) and two dashes (`--`). */
export const MAX_RUN_CHARS = MAX_CREDENTIAL_NAME_CHARS + 7;
const OPEN_INDEX = 0x5b;
const CLOSE_INDEX = 0x5d;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const COLON = 0x3a;
const QUESTION = 0x3f;
const PLUS = 0x2b;

/**
 * Where the name's run ending at `end` starts: name characters, a path's indices between them or after
 * them, and a dot escaped inside a key, as Helm's `--set a.b[0].password=x`, `--set auth.passwords[0]=x` and
 * `--set a\.b.password=x` write them (`\\.` in JSON text); at most {@link MAX_RUN_CHARS} back.
 */
export function runStart(text: string, end: number): number {
  let start = end;
  for (;;) {
    while (start > 0 && end - start <= MAX_RUN_CHARS && isNameChar(text.charCodeAt(start - 1))) start--;
    if (text.charCodeAt(start) === DOT && text.charCodeAt(start - 1) === BACKSLASH) {
      let slash = start - 1;
      while (slash > 0 && end - slash <= MAX_RUN_CHARS && text.charCodeAt(slash - 1) === BACKSLASH) slash--;
      if (!isNameChar(text.charCodeAt(slash - 1))) return start;
      start = slash;
      continue;
    }
    if (text.charCodeAt(start - 1) !== CLOSE_INDEX) return start;
    let open = start - 1;
    while (open > 0 && end - open <= MAX_RUN_CHARS && isDigit(text.charCodeAt(open - 1))) open--;
    if (open === start - 1 || text.charCodeAt(open - 1) !== OPEN_INDEX) return start;
    start = open - 1;
  }
}

/** `run` without the indices at its end (`auth.passwords[0]` → `auth.passwords`): the name they index. */
export function withoutTrailingIndices(run: string): string {
  let end = run.length;
  while (run.charCodeAt(end - 1) === CLOSE_INDEX) {
    let open = end - 1;
    while (open > 0 && isDigit(run.charCodeAt(open - 1))) open--;
    if (open === end - 1 || run.charCodeAt(open - 1) !== OPEN_INDEX) break;
    end = open - 1;
  }
  return run.slice(0, end);
}

/**
 * Where an assignment's operator whose `=` is at `end` starts, the spaces or tabs before it skipped (make's
 * `TOKEN := x`, `TOKEN ::= x`, `TOKEN ?= x`, `TOKEN += x`; Go's `token := x`); `end` when there is none.
 */
export function beforeOperator(text: string, end: number): number {
  let at = end;
  while (at > end - 2 && text.charCodeAt(at - 1) === COLON) at--;
  if (at === end && (text.charCodeAt(at - 1) === QUESTION || text.charCodeAt(at - 1) === PLUS)) at--;
  while (at !== end && at > 0 && (text.charCodeAt(at - 1) === 0x20 || text.charCodeAt(at - 1) === 0x09)) at--;
  return at;
}

/** An ASCII digit's character code. */
export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Where a flag (`--from-literal`, `--set`, a short one: `docker run -e=TOKEN=x`) that starts a word and ends at
 * the `=` at `eq` starts (its first `-`), or -1 for none: its value is a pair of its own
 * (`--from-literal=password=x`). Read back no further than a name's characters.
 */
export function flagStartBefore(text: string, eq: number): number {
  let start = eq;
  while (start > 0 && eq - start <= MAX_RUN_CHARS && isNameChar(text.charCodeAt(start - 1))) start--;
  const dashes = text.startsWith('--', start) ? 2 : text.startsWith('-', start) ? 1 : 0;
  if (dashes === 0 || !NAME_START.test(text.charAt(start + dashes))) return -1;
  return start === 0 || WORD_OPENS.includes(text.charAt(start - 1)) ? start : -1;
}

/** A name's characters: letters, digits, `_`, `.` and `-`. */
export function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2d
  );
}
