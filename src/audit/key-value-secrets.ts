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
 * a name that is no credential's is read as text, where a pair may start (`q=run%20token=…`). Linear: a pair
 * starts only at a word's start, and a credential's value is read once, the next pair looked for after it.
 *
 * @module
 */
import { isSensitiveKey, MAX_CREDENTIAL_NAME_CHARS } from './credential-keys.js';
import { AFTER_ESCAPE } from './vendor-keys.js';

/** A pair's name and its `=` (see the module comment); its value is read only when the name is a credential's. */
const NAME = new RegExp(
  String.raw`(?:(?<![^\s"'${'`'}(,{[])|(?<=(?:^|[\s"'])--?)|${AFTER_ESCAPE})([A-Za-z_][\w.-]*)[ \t]*=[ \t]*`,
  'g',
);
/** A value: quoted, with backslash escapes (a quote left open runs to the end), or bare. */
const VALUE = /'(?:[^'\\]|\\[\s\S])*\\?(?:'|$)|"(?:[^"\\]|\\[\s\S])*\\?(?:"|$)|[^\s"'\\;&]+/y;
/** What every credential's name holds (`isSensitiveKey`'s words): a name without it is not read further. */
const CREDENTIAL_HINT = /pass|pwd|secret|token|key|auth|credential|cookie|jwt|bearer/i;
/** A value the header rule replaced, its scheme before it (`Bearer [redacted]`). */
const SCHEME_THEN_MARKER = /[^\s"'\\;&]+[ \t]+\[redacted\]/y;
const CAMEL = /([a-z0-9])([A-Z])/g;
const NOT_ALNUM = /[^A-Za-z0-9]+/;

/** `text` with the value of each credential's `name=value` pair (see the module comment) replaced by `marker`. */
export function redactKeyValueSecrets(text: string, marker: string): string {
  let out = '';
  let from = 0;
  NAME.lastIndex = 0;
  for (let m = NAME.exec(text); m !== null; m = NAME.exec(text)) {
    // A name that is no credential's: its value is read as text, where a pair may start (`q=run%20token=…`).
    if (!namesSecretValue(m[1] as string)) continue;
    const start = NAME.lastIndex;
    SCHEME_THEN_MARKER.lastIndex = start;
    if (SCHEME_THEN_MARKER.test(text)) continue;
    VALUE.lastIndex = start;
    if (!VALUE.test(text)) continue;
    out += `${text.slice(from, start)}${marker}`;
    from = VALUE.lastIndex;
    NAME.lastIndex = from;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Whether `name` ends in a credential's name: its last word (`password`, `DB_PASSWORD`, `sslpassword`), or its
 * last two that only together name one (`api_key`, `refresh_tokens`); `secret_name` ends in `name`.
 */
function namesSecretValue(name: string): boolean {
  if (name.length > MAX_CREDENTIAL_NAME_CHARS || !CREDENTIAL_HINT.test(name)) return false;
  const words = name
    .replace(CAMEL, '$1_$2')
    .split(NOT_ALNUM)
    .filter((w) => w !== '');
  const last = words.at(-1) ?? '';
  if (isSensitiveKey(last)) return true;
  const before = words.at(-2);
  return before !== undefined && !isSensitiveKey(before) && isSensitiveKey(`${before}_${last}`);
}
