/**
 * Where a value of JSON written in text ends, for `key-value-secrets.ts`: an object or array (`{"password":
 * {"value":"x"}}`, `"token":["a","b"]`) at its closing bracket, and a string quoted at any depth of escaping
 * (`"x"`; `\"x\"` in a JSON string; `\\\"x\\\"` in a JSON string inside that one) at its closing quote.
 *
 * Text escaped `level` times writes a quote that delimits a string with `level` backslashes before it (0, 1, 3,
 * 7: each escaping doubles the backslashes and adds one); a quote inside such a string has more (`\\\"` in
 * `\"a\\\"b\"`). So a quote delimits when the run of backslashes before it, modulo twice the level's plus one,
 * is the level's own: an escaped backslash before a closing quote (`"a\\"`) still closes. Brackets inside a
 * string are no brackets. Each scan reads each character once; a value left open (text cut short) runs to
 * the end.
 *
 * @module
 */

const BACKSLASH = 0x5c;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

/** Whether a quote after `run` backslashes delimits a string of text escaped with `escapes` backslashes. */
export function delimits(run: number, escapes: number): boolean {
  // A count no escaping writes (2, 4, …): that count exactly.
  return (escapes & (escapes + 1)) === 0 ? (run & (2 * escapes + 1)) === escapes : run === escapes;
}

/**
 * The end of the object or array opening at `start` (just after its closing `}` or `]`; the text's length when
 * it never closes), in text whose quotes are escaped with `escapes` backslashes. Single quotes delimit strings
 * too in unescaped text (`{'a': 'b}'}`, as Python prints a dict).
 */
export function bracketedEnd(text: string, start: number, escapes: number): number {
  let depth = 0;
  let quote = 0;
  let run = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) {
      run++;
      continue;
    }
    const before = run;
    run = 0;
    if (quote !== 0) {
      if (c === quote && delimits(before, escapes)) quote = 0;
    } else if ((c === DOUBLE_QUOTE || (c === SINGLE_QUOTE && escapes === 0)) && delimits(before, escapes)) {
      quote = c;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return i + 1;
  }
  return text.length;
}

/**
 * The end of a string whose opening quote (a `"` after `escapes` backslashes) ends just before `from`: just
 * after its closing quote, or the text's length when it never closes.
 */
export function quotedEnd(text: string, from: number, escapes: number): number {
  let run = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) run++;
    else {
      if (c === DOUBLE_QUOTE && delimits(run, escapes)) return i + 1;
      run = 0;
    }
  }
  return text.length;
}

/** How many backslashes stand right before `at` (at most `max`). */
export function backslashesBefore(text: string, at: number, max: number): number {
  let n = 0;
  while (n < max && at - n > 0 && text.charCodeAt(at - n - 1) === BACKSLASH) n++;
  return n;
}

/** How far a pair's closing quote is looked for: a command line's quoted value is short. */
const MAX_QUOTED_PAIR_CHARS = 1_024;

/**
 * Where a pair written inside quotes ends (`--from-literal="password=p w"`, `["DB_PASSWORD=p w"]`,
 * `["--password=p w"]`, `\"TOKEN=a b\"` in a JSON string) when its word at `wordAt` (its name, the name's
 * dashes, or the flag whose value it is) follows a quote: at the same quote, escaped as that one is, looked for
 * from `from` on the line and at most {@link MAX_QUOTED_PAIR_CHARS} on. With none there (`"password=p w` and
 * the line's end, text cut short), at the line's end or that bound: the value may hold spaces up to either,
 * and a secret is not kept when unsure. -1 when no quote stands before the word.
 */
export function quotedPairEnd(text: string, wordAt: number, from: number): number {
  const q = text.charCodeAt(wordAt - 1);
  if (q !== DOUBLE_QUOTE && q !== SINGLE_QUOTE) return -1;
  const escapes = backslashesBefore(text, wordAt - 1, 127);
  const limit = Math.min(text.length, from + MAX_QUOTED_PAIR_CHARS);
  for (let i = from; i < limit; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return i;
    if (c === q && delimits(backslashesBefore(text, i, 127), escapes)) return i - escapes;
  }
  return limit;
}
