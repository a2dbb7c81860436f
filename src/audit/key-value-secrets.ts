/**
 * Credentials written as `name=value` or `name: value` outside a URL's query (whose parameters are `uri-secrets.ts`'s): libpq's
 * connection strings (`host=db user=app password='p w' dbname=x`), an environment listing (`DB_PASSWORD=…`,
 * `export API_KEY=…`), a command line's `--password=…`, a log line's `token=…`. The value is replaced, the
 * name kept (`password=[redacted]`).
 *
 * - A pair starts a word: at the start, after a space, a quote, a backtick, `(`, `,`, `{` or `[`, after `-` or
 *   `--` that start one, right after an escape (`\n`, `%20`), or as a flag's value after its `=`
 *   (`kubectl create secret generic x --from-literal=password=x`, `helm --set=db.password=x`, `-e=TOKEN=x`), a path's indices in the name or after it (`--set a.b[0].password=x`,
 *   `--set auth.passwords[0]=x`), an escaped dot in it (`--set a\\.b.password=x`).
 * - Its name names a credential by its last word (`password`, `DB_PASSWORD`, `api_key`, `authToken`,
 *   `sslpassword`), so `secret_name=…` (which secret), `token_type=…` and `max_tokens=…` are kept. A name of
 *   more than {@link MAX_CREDENTIAL_NAME_CHARS} characters is text.
 * - `=` may have spaces or tabs around it (libpq allows them); the value is quoted (`'p w'`, `"p;w"`, with
 *   backslash escapes, as libpq quotes a value holding spaces; a quote left open runs to the end) or runs to a
 *   space, quote, backslash (not one a shell or Helm escapes with: `p\$w`, `a\,b`), `;` or `&`; a pair inside quotes (`--from-literal="password=p w"`, `["TOKEN=a b"]`)
 *   to the closing quote (on its line, at most 1 KiB on; with none, to the line's end or that bound).
 * - A JSON member in text (a log message holding a JSON body): the name quoted (`"password":"x"`, escaped
 *   `\"password\":\"x\"` in JSON inside JSON, `\\\"password\\\":\\\"x\\\"` a level deeper, single-quoted `'password': 'x'`), `:` or `=`; a quoted value
 *   keeps its quotes (`"password":"[redacted]"`, so the text stays JSON), a bare one ends at `,`, `}` or `]`;
 *   an object or array (`"password":{"value":"x"}`, `"token":["a","b"]`) is replaced whole, up to its closing
 *   bracket (`json-text.ts`), by the marker in the name's quotes (`"password":"[redacted]"`); so is one after
 *   a bare name (`{ password: { value: 'x' } }`, as Node's `util.inspect` writes an object; YAML's flow
 *   `token: [a, b]`), by the bare marker.
 * - `name: value` (`db password: x`, `token: abc, user: bob`): the value on the same line, bare up to a space,
 *   `,`, `}` or `]`, when it stands alone (the line's end, a quote, `,`, `;`, `&`, a bracket or the next
 *   `name:` follows it) or looks like a credential (a digit, a symbol, a capital inside), so prose after a
 *   colon is kept (`client secret: opaque tokens are refused`), and so is a word saying what state the credential
 *   is in (`invalid token: expired`, `token: MISSING`: `credential-keys.ts`); a URL's `token://` is no pair. YAML's value on
 *   the lines after the key (`password:\n  hunter2`, `token: |\n  abc`, a quoted key's too: `"password":\n
 *   x`): those lines, `yaml-values.ts`; a JSON member's value on the next line, however indented
 *   (`"api_key":\n"x"`), is read as on the name's line.
 *
 * A value another rule already replaced keeps its scheme (`Authorization=Bearer [redacted]`); the value of
 * a name that is no credential's is read as text, where a pair may start (`q=run%20token=…`). Linear: each
 * `=` and `:` is found once, its name read back no further than the name's characters (and at most 135 of
 * them), and a credential's value is read once, the next `=` or `:` looked for after it; a `:` inside a value
 * already read as prose is not read again, and a scheme before a marker is a short word.
 *
 * @module
 */
import {
  CREDENTIAL_HINT,
  describesCredential,
  isStateWord,
  MAX_CREDENTIAL_NAME_CHARS,
  namesSecretValue,
  SWITCH_WORDS,
} from './credential-keys.js';
import { backslashesBefore, bracketedEnd, quotedEnd, quotedPairEnd } from './json-text.js';
import {
  beforeOperator,
  flagStartBefore,
  isNameChar,
  NAME_START,
  runStart,
  WORD_OPENS,
  withoutTrailingIndices,
} from './name-runs.js';
import { closesValue } from './scheme-credentials.js';
import { afterLineBreaks, valueOnNextLines } from './yaml-values.js';

/**
 * A value: quoted, with backslash escapes (a quote left open runs to the end; in single quotes `''` too, as
 * YAML writes an apostrophe and a shell or SQL joins two strings: `password: 'it''s x'`), quoted with escaped
 * quotes as a JSON string writes a connection string's (`password=\\"p w\\"`), or bare, with what a shell or Helm
 * escapes in it (`p\$w`, `p\ w`, Helm's `a\,b`: a backslash and a space or a symbol; a JSON escape, `\n`,
 * `\"` or `\\`, ends it).
 */
const VALUE =
  /'(?:[^'\\]|\\[\s\S]|'')*\\?(?:'|$)|"(?:[^"\\]|\\[\s\S])*\\?(?:"|$)|\\"(?:[^\\]|\\[^"])*\\?(?:\\"|$)|(?:[^\s"'\\;&]|\\[^\sA-Za-z0-9"'\\]|\\ )+/y;
/**
 * A JSON member's value, or one after `name:`: quoted as {@link VALUE} quotes, or bare up to a space, quote,
 * backslash, `;`, `&`, `,`, `}` or `]` (`"password": 12345,`, `password: x, user: bob`).
 */
const JSON_VALUE =
  /'(?:[^'\\]|\\[\s\S]|'')*\\?(?:'|$)|"(?:[^"\\]|\\[\s\S])*\\?(?:"|$)|\\"(?:[^\\]|\\[^"])*\\?(?:\\"|$)|[^\s"'\\;&,}\]]+/y;
/** The quote a JSON member's value opens with (escaped too). */
const QUOTE_OPEN = /^(?:\\*"|')/;
/** The most backslashes read before a quote: a JSON string seven times escaped. */
const MAX_ESCAPES = 127;
const COLON = 0x3a;
/** What a JSON string, object or array opens with. */
const JSON_OPENS = '"\'{[';
/** A boolean's or an absent value's word, quoted or not. */
const BOOLEAN_ISH = new RegExp(`^(\\\\?["']?)(?:${SWITCH_WORDS})\\1$`, 'i');
const QUOTED = /^(?:\\?"|')/;
const SPACE = /\s/;
/** What a credential has and a word of prose does not: a digit, a symbol, a capital inside. */
const CREDENTIAL_LOOK = /[0-9+/=_~!@#$%^*?]|.[A-Z]/;
/**
 * A value another rule replaced (`[redacted]`), its scheme before it too (`Bearer [redacted]`), quoted or not
 * (`"Bearer \"[redacted]\""`). A scheme is a short word: unbounded, each `=` of `token=(token=(…` read its run
 * to the marker at its end again, quadratic (1.3 s for 128 KiB).
 */
const SCHEME_THEN_MARKER = /\\?["']?(?:[^\s"'\\;&]{1,32}[ \t]+(?:\\?["'])?)?\[redacted\]/y;
/** `\n`, `\r`, `\t` or `\u0020` written in text (the backslash before), or `%20`: the escape's own characters. */
const ESCAPE_TAIL = /^(?:[nrt]|u[0-9A-Fa-f]{4})/;
const HEX_PAIR = /^[0-9A-Fa-f]{2}/;

/**
 * `text` with the value of each credential's `name=value` or `name: value` pair (see the module comment)
 * replaced by `marker`. Each `=` and `:` is found by `indexOf`, and its name read backwards from it: no regex
 * tries every position. Text that names no credential (`CREDENTIAL_HINT`) is returned at once.
 */
export function redactKeyValueSecrets(text: string, marker: string): string {
  if (!CREDENTIAL_HINT.test(text)) return text;
  let out = '';
  let from = 0;
  let next = 0;
  let eq = text.indexOf('=');
  let colon = text.indexOf(':');
  const prose = { end: -1, stack: -1 };
  while (eq !== -1 || colon !== -1) {
    const sep = eq === -1 ? colon : colon === -1 ? eq : Math.min(eq, colon);
    next = sep + 1;
    const found = pairAt(text, sep, prose);
    if (found !== undefined) {
      out += `${text.slice(from, found.start)}${found.quote}${marker}${found.quote}`;
      from = found.end;
      next = from;
    }
    if (eq !== -1 && eq < next) eq = text.indexOf('=', next);
    if (colon !== -1 && colon < next) colon = text.indexOf(':', next);
  }
  return from === 0 ? text : out + text.slice(from);
}

/** A pair's name, and for a quoted one (a JSON member's) its quote and the backslashes escaping it. */
interface Name {
  readonly name: string;
  readonly quoted: boolean;
  readonly quote: string;
  readonly escapes: number;
  /** Where the name starts. */
  readonly at: number;
  /** Where its word starts: before its dashes (`"--password=…`), or its flag's (`"-e=TOKEN=…`). */
  readonly word: number;
}

/** A credential's value to replace: where it starts and ends, and the quotes a JSON member's value keeps. */
interface Found {
  readonly start: number;
  readonly end: number;
  readonly quote: string;
}

/**
 * The value of the pair whose `=` or `:` is at `sep`, when its name names a credential. A name in quotes (a
 * JSON member: `"password":"x"`, `'password': 'x'`, `\"password\":\"x\"`) keeps its value's quotes, and its
 * bare value ends at `,`, `}` or `]` too; a `:` after a bare name needs a value on its line (`db password:
 * x`), and is no URL's (`token://…`).
 */
function pairAt(text: string, sep: number, prose: { end: number; stack: number }): Found | undefined {
  const name = nameBefore(text, sep);
  // A name that is no credential's: its value is read as text, where a pair may start (`q=run%20token=…`).
  if (name === undefined || !namesSecretValue(name.name)) return undefined;
  // `TOKEN := x` (make, Go): the pair is the `=`'s, its name read back over the `:`.
  if (text.charCodeAt(sep) === COLON && /^:?=/.test(text.slice(sep + 1, sep + 3))) return undefined;
  // A bare name's `:` inside a value already read as prose: its value is the rest of that one, which does not
  // stand alone and holds no credential's look either (`token:(token:(… y z`). Not read again: each would read
  // the run to its end, quadratic (4 s for 128 KiB).
  if (text.charCodeAt(sep) === COLON && !name.quoted && sep + 1 < prose.end) return undefined;
  let start = sep + 1;
  while (start < text.length && isPadding(text.charCodeAt(start))) start++;
  if (text.charCodeAt(sep) === COLON && text.startsWith('//', sep + 1)) return undefined;
  // A JSON member's value on a line of its own (`"api_key":\n"x"`, as JSON is printed; JSON allows any white
  // space there): a string, object or array is read as JSON, to its closing quote or bracket, so the `},`
  // after it stays; not a string a `:` follows, a YAML mapping's first key (`"secrets":\n  "db": x`).
  const member = name.quoted && name.escapes === 0 && text.charCodeAt(sep) === COLON;
  const next = member ? afterLineBreaks(text, start) : start;
  const json = next !== start && JSON_OPENS.includes(text.charAt(next)) && !opensKey(text, next);
  // YAML's `password:` or `token: |` with the value on the lines after it, indented more; a quoted key
  // (`"password":`, its column its quote's) too, as YAML allows.
  const lines =
    text.charCodeAt(sep) === COLON && name.escapes === 0 && !json && sep >= prose.stack
      ? valueOnNextLines(text, name.at - name.quote.length, start)
      : undefined;
  if (lines?.kept) prose.stack = lines.end; // a key inside a stack has no lines to read again
  if (lines !== undefined) return lines.kept ? undefined : { start: lines.start, end: lines.end, quote: '' };
  // A member with nothing on its line, and the next line's key (`"password":\n"user": bob`): no value.
  if (next !== start && opensKey(text, next)) return undefined;
  start = next;
  SCHEME_THEN_MARKER.lastIndex = start;
  if (SCHEME_THEN_MARKER.test(text)) return undefined;
  // An object or array (`"password":{"value":"x"}`, `{ password: [ 'a' ] }` as Node's inspect writes it):
  // all of it, a JSON member's written as a string.
  const open = text.charCodeAt(start);
  if (open === 0x7b || open === 0x5b)
    return { start, end: bracketedEnd(text, start, name.escapes), quote: name.quote };
  const m = valueAt(text, start, name.quoted || text.charCodeAt(sep) === COLON ? JSON_VALUE : VALUE);
  if (m === undefined) return undefined;
  let end = start + m.length;
  // A pair inside quotes (`--from-literal="password=p w"`, `["--password=p w"]`): its bare value runs to the
  // closing quote.
  if (!name.quoted && text.charCodeAt(sep) !== COLON && !QUOTED.test(m))
    end = Math.max(end, quotedPairEnd(text, name.word, end));
  // `passwordless=true`, `has_password: no`: a switch's state, not a credential (`password=true` is one).
  if (BOOLEAN_ISH.test(m) && describesCredential(name.name)) return undefined;
  // `invalid token: expired` and `token: MISSING` say what state it is in; `client secret: opaque tokens are
  // refused` is prose.
  if (text.charCodeAt(sep) === COLON && !name.quoted && !QUOTED.test(m)) {
    if (isStateWord(m)) return undefined;
    if (!standsAlone(text, m, end)) {
      prose.end = end;
      return undefined;
    }
  }
  const quote = name.quoted ? (QUOTE_OPEN.exec(m)?.[0] ?? '') : '';
  // A quoted value keeps its quotes only when it closes (`"p w"`); one left open runs to the end.
  if (quote !== '' && (m.length < 2 * quote.length || !m.endsWith(quote))) return { start, end, quote: '' };
  return { start, end, quote };
}

/**
 * Whether a key starts at `at`: a string a `:` follows (spaces or tabs between), or a word ending in `:` and a
 * space or its line's end (YAML's `user: bob`; `a:b` is a value).
 */
function opensKey(text: string, at: number): boolean {
  const value = valueAt(text, at, JSON_VALUE) ?? '';
  let end = at + value.length;
  if (!QUOTED.test(value))
    return (
      NAME_START.test(value) && value.endsWith(':') && (end === text.length || SPACE.test(text.charAt(end)))
    );
  while (isPadding(text.charCodeAt(end))) end++;
  return text.charCodeAt(end) === COLON;
}

/**
 * The value starting at `start`, read by `pattern`, or quoted with two or more backslashes before its quotes
 * (`\\\"x\\\"`: JSON in a JSON string in a JSON string), which `pattern` does not read.
 */
function valueAt(text: string, start: number, pattern: RegExp): string | undefined {
  let escapes = 0;
  while (text.charCodeAt(start + escapes) === 0x5c && escapes < MAX_ESCAPES) escapes++;
  if (escapes >= 2 && text.charCodeAt(start + escapes) === 0x22)
    return text.slice(start, quotedEnd(text, start + escapes + 1, escapes));
  pattern.lastIndex = start;
  return pattern.exec(text)?.[0];
}

/**
 * Whether a bare value after `name:` is one: it closes its value (the text's or its line's end, a quote, `,`,
 * `;`, `&`, a bracket, or the next `name:`: `password: x, user: bob`), or looks like a credential.
 */
function standsAlone(text: string, value: string, end: number): boolean {
  return CREDENTIAL_LOOK.test(value) || closesValue(text, end);
}

/**
 * The name before the `=` or `:` at `sep` (spaces or tabs between) when it starts a word (see the module
 * comment) or is quoted (`"password":`, `\"password\":`, `'password':`): read back over name characters, at
 * most {@link MAX_CREDENTIAL_NAME_CHARS} (a longer run is text), and never past the last `=` or `:`, so each
 * character is read back once.
 */
function nameBefore(text: string, sep: number): Name | undefined {
  let end = sep;
  while (end > 0 && isPadding(text.charCodeAt(end - 1))) end--;
  if (text.charCodeAt(sep) !== COLON) end = beforeOperator(text, end);
  const q = text.charAt(end - 1);
  if (q === '"' || q === "'") {
    // A quoted name: its closing quote (escaped, at any depth, too), the name, the same opening quote.
    const escapes = backslashesBefore(text, end - 1, MAX_ESCAPES);
    const close = end - 1 - escapes;
    let start = close;
    while (start > 0 && close - start <= MAX_CREDENTIAL_NAME_CHARS && isNameChar(text.charCodeAt(start - 1)))
      start--;
    const quote = `${'\\'.repeat(escapes)}${q}`;
    if (start === close || !text.startsWith(quote, start - quote.length)) return undefined;
    if (escapes === 0 && text.charAt(start - quote.length - 1) === '\\') return undefined;
    const name = text.slice(start, close);
    return NAME_START.test(name) && name.length <= MAX_CREDENTIAL_NAME_CHARS
      ? { name, quoted: true, quote, escapes, at: start, word: start - quote.length }
      : undefined;
  }
  const start = runStart(text, end);
  if (start > 0 && isNameChar(text.charCodeAt(start - 1))) return undefined; // longer: text, no name
  let run = text.slice(start, end);
  let word = start;
  if (start > 0) {
    const before = text.charAt(start - 1);
    const tail = before === '\\' ? ESCAPE_TAIL.exec(run) : before === '%' ? HEX_PAIR.exec(run) : undefined;
    const flag = before === '=' ? flagStartBefore(text, start - 1) : -1;
    if (tail === null || (tail === undefined && !WORD_OPENS.includes(before) && flag === -1))
      return undefined;
    run = run.slice(tail?.[0].length ?? 0);
    if (flag !== -1) word = flag;
  }
  if (run.startsWith('-')) run = run.slice(run.startsWith('--') ? 2 : 1);
  const name = withoutTrailingIndices(run);
  return NAME_START.test(run) && run.length <= MAX_CREDENTIAL_NAME_CHARS
    ? { name, quoted: false, quote: '', escapes: 0, at: end - run.length, word }
    : undefined;
}

function isPadding(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
