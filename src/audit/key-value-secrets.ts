/**
 * Credentials written as `name=value` outside a URL's query (whose parameters are `uri-secrets.ts`'s): libpq's
 * connection strings (`host=db user=app password='p w' dbname=x`), an environment listing (`DB_PASSWORD=…`,
 * `export API_KEY=…`), a command line's `--password=…`, a log line's `token=…`. The value is replaced, the
 * name kept (`password=[redacted]`).
 *
 * - A pair starts a word: at the start, after a space, a quote, a backtick, `(`, `,`, `{` or `[`, after `-` or
 *   `--` that start one, or right after an escape (`\n`, `%20`).
 * - Its name names a credential by its last word (`password`, `DB_PASSWORD`, `api_key`, `authToken`,
 *   `sslpassword`), so `secret_name=…` (which secret), `token_type=…` and `max_tokens=…` are kept. A name of
 *   more than {@link MAX_CREDENTIAL_NAME_CHARS} characters is text.
 * - `=` may have spaces or tabs around it (libpq allows them); the value is quoted (`'p w'`, `"p;w"`, with
 *   backslash escapes, as libpq quotes a value holding spaces; a quote left open runs to the end) or runs to a
 *   space, quote, backslash, `;` or `&`.
 *
 * A value the header rule already replaced keeps its scheme (`Authorization=Bearer [redacted]`); the value of
 * a name that is no credential's is read as text, where a pair may start (`q=run%20token=…`). Linear: each
 * `=` is found once, its name read back no further than the name's characters (and at most 135 of them), and
 * a credential's value is read once, the next `=` looked for after it.
 *
 * @module
 */
import { isSensitiveKey, MAX_CREDENTIAL_NAME_CHARS } from './credential-keys.js';

/**
 * A value: quoted, with backslash escapes (a quote left open runs to the end), quoted with escaped quotes as a
 * JSON string writes a connection string's (`password=\\"p w\\"`), or bare.
 */
const VALUE =
  /'(?:[^'\\]|\\[\s\S])*\\?(?:'|$)|"(?:[^"\\]|\\[\s\S])*\\?(?:"|$)|\\"(?:[^\\]|\\[^"])*\\?(?:\\"|$)|[^\s"'\\;&]+/y;
/** What every credential's name holds (`isSensitiveKey`'s words): a name without it is not read further. */
const CREDENTIAL_HINT = /pass|pwd|secret|token|key|auth|credential|cookie|jwt|bearer/i;
/** A value the header rule replaced, its scheme before it (`Bearer [redacted]`). */
const SCHEME_THEN_MARKER = /[^\s"'\\;&]+[ \t]+\[redacted\]/y;
/** What may stand before a name: a word's start. */
const WORD_OPENS = ' \t\r\n\f\v"\'`(,{[';
/** A name starts with a letter or `_`. */
const NAME_START = /^[A-Za-z_]/;
/** The longest run read back: a name, an escape's characters before it (`u0020`) and two dashes (`--`). */
const MAX_RUN_CHARS = MAX_CREDENTIAL_NAME_CHARS + 7;
/** `\n`, `\r`, `\t` or `\u0020` written in text (the backslash before), or `%20`: the escape's own characters. */
const ESCAPE_TAIL = /^(?:[nrt]|u[0-9A-Fa-f]{4})/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}/;
const CAMEL = /([a-z0-9])([A-Z])/g;
const NOT_ALNUM = /[^A-Za-z0-9]+/;
/** The last word of a two-word credential's name (`api_key`, `secretKeys`, `refresh_tokens`). */
const PAIR_END = /^(?:keys?|tokens)$/i;

/**
 * `text` with the value of each credential's `name=value` pair (see the module comment) replaced by `marker`.
 * Each `=` is found by `indexOf`, and its name read backwards from it: no regex tries every position.
 */
export function redactKeyValueSecrets(text: string, marker: string): string {
  let out = '';
  let from = 0;
  let next = 0;
  for (let eq = text.indexOf('='); eq !== -1; eq = text.indexOf('=', next)) {
    next = eq + 1;
    // A name that is no credential's: its value is read as text, where a pair may start (`q=run%20token=…`).
    const name = nameBefore(text, eq);
    if (name === undefined || !namesSecretValue(name)) continue;
    let start = next;
    while (start < text.length && isPadding(text.charCodeAt(start))) start++;
    SCHEME_THEN_MARKER.lastIndex = start;
    if (SCHEME_THEN_MARKER.test(text)) continue;
    VALUE.lastIndex = start;
    if (!VALUE.test(text)) continue;
    out += `${text.slice(from, start)}${marker}`;
    from = VALUE.lastIndex;
    next = from;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * The name before the `=` at `eq` (spaces or tabs between) when it starts a word (see the module comment):
 * read back over name characters, at most {@link MAX_CREDENTIAL_NAME_CHARS} (a longer run is text), and never
 * past the last `=`, so each character is read back once.
 */
function nameBefore(text: string, eq: number): string | undefined {
  let end = eq;
  while (end > 0 && isPadding(text.charCodeAt(end - 1))) end--;
  let start = end;
  while (start > 0 && end - start <= MAX_RUN_CHARS && isNameChar(text.charCodeAt(start - 1))) start--;
  if (start > 0 && isNameChar(text.charCodeAt(start - 1))) return undefined; // longer: text, no name
  let run = text.slice(start, end);
  if (start > 0) {
    const before = text.charAt(start - 1);
    const tail = before === '\\' ? ESCAPE_TAIL.exec(run) : before === '%' ? HEX_PAIR.exec(run) : undefined;
    if (tail === null || (tail === undefined && !WORD_OPENS.includes(before))) return undefined;
    run = run.slice(tail?.[0].length ?? 0);
  }
  if (run.startsWith('-')) run = run.slice(run.startsWith('--') ? 2 : 1);
  return NAME_START.test(run) && run.length <= MAX_CREDENTIAL_NAME_CHARS ? run : undefined;
}

/** A name's characters: letters, digits, `_`, `.` and `-`. */
function isNameChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x5f ||
    c === 0x2e ||
    c === 0x2d
  );
}

function isPadding(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/**
 * Whether `name` ends in a credential's name: its last word (`password`, `DB_PASSWORD`, `sslpassword`), or its
 * last two when they end in `key`, `keys` or `tokens` and together name one (`api_key`, `SECRET_KEY`,
 * `refresh_tokens`); `secret_name` ends in `name`.
 */
function namesSecretValue(name: string): boolean {
  if (name.length > MAX_CREDENTIAL_NAME_CHARS || !CREDENTIAL_HINT.test(name)) return false;
  const words = name
    .replace(CAMEL, '$1_$2')
    .split(NOT_ALNUM)
    .filter((w) => w !== '');
  const last = words.at(-1) ?? '';
  if (isSensitiveKey(last)) return true;
  // Two words (`api_key`, `SECRET_KEY`): only a name that ends in `key`, `keys` or `tokens` is read so, or
  // `secret_name` and `password_policy` would be taken for credentials by their first word.
  const before = words.at(-2);
  return before !== undefined && PAIR_END.test(last) && isSensitiveKey(`${before}_${last}`);
}
