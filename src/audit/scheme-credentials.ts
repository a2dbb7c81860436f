/**
 * HTTP credentials written with their scheme (RFC 9110 `<scheme> <token68>`), found by value for
 * `secret-values.ts`: a string that is `Bearer …` or `Basic …` and a token68 of 6+ characters that is no word
 * (`Basic plan`, `Bearer tokens` are kept) is a credential, whole; inside longer text, the credential after
 * the scheme when it looks like one (8+ characters with a digit, one of `+/=_~`, or a capital inside, not all
 * capitals), so prose (`the bearer of this letter`, `basic well-known steps`, `BEARER SUBSCRIPTION`) is left
 * alone.
 *
 * A bearer token a person picked is often a lower-case word or short (`changeme`, `dev1`): after `Bearer` it is
 * a credential where a value stands, whole (`Bearer changeme`), quoted (`"Bearer changeme"`), or after a `:`
 * or `=` up to the end of its line, a quote, `,`, `;`, `&` or the next field (`auth: Bearer changeme user:
 * bob`, `AUTH=bearer test;`), when it has 4+ characters and is no word prose puts after the scheme (`Bearer
 * tokens`, `bearer authentication`, `bearer bonds`). In running text (`Bearer token required`, `sent as bearer
 * changeme to x`) and as a title's word (`Bearer Token`, `BEARER SUBSCRIPTION`) it is kept. `Basic` takes no
 * such word: its credential is base64.
 *
 * After the scheme, a parameter (`Bearer realm="mcp"`, `Bearer resource_metadata="https://…"`, as a
 * `WWW-Authenticate` challenge writes them) or another field (`token_type=bearer max_tokens=5`) is no token68.
 *
 * `Basic` and user information written raw, not in base64 (`Basic alice:s3cret`, as a hand-written header or
 * a client's log shows it): the password after the `:` is replaced, the user kept (`Basic alice:[redacted]`),
 * as in a URL. Where a value stands (the text's or a line's start, after `:`, `=`, a quote, a bracket, a comma
 * or an escape: `auth: Basic alice:two words`, `"Basic …"`), the password runs to the value's end (the line's
 * end, a quote, a backtick or a backslash), spaces included: a hand-written password may hold them. In
 * running text (`ran Basic setup:done in 2s`) it runs to a space, and is replaced only when it looks like a
 * password (4+ characters with a digit, a symbol or a capital inside: `s3cr3t`, `p@ss`), so prose is kept.
 * A string of one line that is only `Basic user:…` is a value whatever follows the `:`, up to its end
 * (`Basic alice:bluebird`, `Basic alice:two words`, `Basic setup:done in 2s`: a credential's shape, and a
 * secret is never logged when unsure). One of more lines that starts with `Basic user:…` is judged as
 * running text, a picked password such as `secret` or `admin` taken for one, then read as a value. A
 * time or ratio
 * (`Basic 10:30`) and a URL (`Basic https://…`) are no user information. A quoted password (`Basic
 * alice:"p w"`, `\"p w\"` in JSON text) is a value wherever it stands: to its closing quote or its line's end.
 *
 * @module
 */
import { backslashesBefore, delimits } from './json-text.js';
import { ESCAPE } from './vendor-keys.js';

/** The whole string is `<scheme> <token68>` (RFC 9110): a credential when the token is one. */
const WHOLE_CREDENTIAL = /^\s*(bearer|basic)\s+([A-Za-z0-9._~+/-]+=*)\s*$/i;
/** A word, not a credential: letters only, lower case, capitalised or all capitals (`plan`, `SUBSCRIPTION`). */
const WORD = /^(?:[A-Za-z][a-z]*|[A-Z]+)$/;
const WHOLE_CREDENTIAL_MIN_CHARS = 6;
/**
 * After the scheme's name, that it starts a word: after no letter or digit, or right after an escape. Looked
 * at behind the name, not before it: a pattern that opens with a lookbehind is tried at every position of the
 * text (~12 µs a kB), one that opens with a word is found by a quick scan for its first letter.
 */
const STARTS_WORD = (name: string) => String.raw`(?<=(?:^|[^A-Za-z0-9]|${ESCAPE})${name})`;
/**
 * `Bearer`/`Basic` as a word, spaces (URL-encoded too: `%20Bearer%20…`, or form-encoded as `URLSearchParams`
 * writes one: `auth=Bearer+…`) and an optional quote (a quoted token68, `Bearer "…"`), then a token68, its
 * URL-encoded `+`, `/` and `=` included (its trailing dots are a sentence's, put back below).
 */
const CREDENTIAL_IN_TEXT = new RegExp(
  String.raw`(bearer|basic)${STARTS_WORD('(?:bearer|basic)')}((?:\s|%20|\+)+(?:\\?["']|%22)?)((?:[A-Za-z0-9._~+/-]|%2[BbFf]|%3[Dd])+=*)`,
  'gi',
);
/** `Basic`, a user and `:`, then a password: up to a space, quote or backslash (an escape), or a quote. */
const RAW_BASIC = new RegExp(
  String.raw`(basic${STARTS_WORD('basic')}[ \t]+[^\s:"'\\]+:)(\\?["']|[^\s"'\\]+)`,
  'gi',
);
const DIGITS = /^\d+$/;
/** A raw password in running text: 4+ characters with a digit, a symbol or a capital inside (`s3cr3t`, `p@ss`). */
const RAW_PASSWORD_LOOK = /^(?=.{4})(?:.*[0-9+/=_~!@#$%^&*?]|.+[A-Z])/;
/**
 * Passwords people pick and default credentials use (`admin:admin`, `guest:guest`): no label's word. A string
 * that is only `Basic user:<one of them>` is taken for a credential though it looks like no password.
 */
const PICKED_PASSWORDS: ReadonlySet<string> = new Set(
  'secret password passwd pass changeme admin root guest test letmein qwerty default welcome hunter'.split(
    ' ',
  ),
);
/** Where a raw password that stands as a value ends: its line's end, a quote, a backtick or an escape. */
const RAW_VALUE_CLOSES = '"\'`\\\r\n';

const SPACE = /\s/;
const NON_SPACE = /\S/g;
/** A parameter's name and its `=` (a token68's padding follows no lower-case name), and what starts its value. */
const AUTH_PARAM = /^[a-z][a-z0-9_-]*=$/;
const PARAM_VALUE_START = /^["A-Za-z0-9]$/;
/** What a credential has and a word of prose does not. */
const CREDENTIAL_LOOK = /[0-9+/=_~]|.[A-Z]/;
const CREDENTIAL_MIN_CHARS = 8;
/** Words prose puts after `Bearer` (compared lower-cased): no credential, even where a value stands. */
const PROSE_AFTER_BEARER: ReadonlySet<string> = new Set(
  [
    'token tokens auth authentication authorization scheme schemes header headers credential credentials',
    'type format only required access value string bond bonds share shares instrument instruments cheque',
    'check form securities',
  ]
    .join(' ')
    .split(' '),
);
/** A title's word (`Token`, `SUBSCRIPTION`): no token a person picks. */
const TITLE_WORD = /^(?:[A-Z][a-z]*|[A-Z]+)$/;
/** The shortest picked token taken for one (`test`; `dev` is too short to tell). */
const PICKED_MIN_CHARS = 4;
/** What opens a value before the scheme, and what closes it after the token (a backslash: an escape). */
const VALUE_OPENS = ':="\'`([{,\r\n';
const VALUE_CLOSES = '"\'`,;&)]}\\\r\n';
/** A field's name and its `:` or `=`, after a value (`user: bob`, `user=bob`). */
const NEXT_FIELD = /[A-Za-z_][\w.-]{0,63}[:=]/y;
/** How far around a credential spaces or tabs are skipped to find what opens or closes its value. */
const MAX_PADDING = 16;
/** An escape that ends just before the scheme (`\nBearer …`, `\"Bearer …`, `%20Bearer …`): a value opens there. */
const ESCAPE_BEFORE = /(?:\\[nrt"]|\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2})$/;
/**
 * `text` with its scheme credentials (see the module comment) replaced by `marker`: `marker` itself when the
 * whole text is one.
 */
export function redactSchemeCredentials(text: string, marker: string): string {
  // A header's value on its own (`Bearer abc.def-ghi`): laxer than in text, but a word is no credential,
  // unless a picked bearer token.
  const whole = WHOLE_CREDENTIAL.exec(text);
  const token = whole?.[2];
  if (token !== undefined && token.length >= WHOLE_CREDENTIAL_MIN_CHARS && !WORD.test(token)) return marker;
  if (token !== undefined && isBearer(whole?.[1] as string) && isPickedToken(token)) return marker;
  const raw = text.includes(':') ? redactRawBasic(text, marker) : text;
  return raw.replace(
    CREDENTIAL_IN_TEXT,
    (found: string, scheme: string, space: string, credential: string, at: number) =>
      credentialInText(raw, at, found, scheme, space, credential, marker),
  );
}

/** `Bearer` or `Basic` in any case: a scheme's name is case-insensitive (RFC 9110 §11.1), `BeArEr` too. */
const SCHEME_WORD = /b(?:earer|asic)/i;

/** Whether `text` may hold `Bearer` or `Basic`, in any case (one scan, ~0.2 µs a kB). */
export function hasSchemeWord(text: string): boolean {
  return SCHEME_WORD.test(text);
}

function credentialInText(
  text: string,
  at: number,
  whole: string,
  scheme: string,
  space: string,
  token: string,
  marker: string,
): string {
  // Form-encoded (`Bearer+…`): a `+` is a space, the token's own is `%2B`; after it comes the next word, not
  // the token (`q=the+bearer+of+this+letter`).
  const plus = space.includes('+') ? token.indexOf('+') : -1;
  const own = plus === -1 ? token : token.slice(0, plus);
  const after = at + whole.length - (token.length - own.length);
  // A sentence's full stop is not part of the credential.
  let end = own.length;
  while (end > 0 && own.charCodeAt(end - 1) === 0x2e) end--;
  const credential = own.slice(0, end);
  // A challenge's parameter (`Bearer realm="mcp"`, `resource_metadata="…"`) or a field (`bearer max_tokens=5`).
  if (AUTH_PARAM.test(credential) && PARAM_VALUE_START.test(text.charAt(after))) return whole;
  // `SUBSCRIPTION` is a word.
  const looks =
    credential.length >= CREDENTIAL_MIN_CHARS && CREDENTIAL_LOOK.test(credential) && !WORD.test(credential);
  const picked =
    !looks &&
    isBearer(scheme) &&
    isPickedToken(credential) &&
    opensValue(text, at) &&
    closesValue(text, after);
  if (!looks && !picked) return whole;
  return `${scheme}${space}${marker}${token.slice(end)}`;
}

/**
 * Each raw `Basic user:password` with its password replaced (see the module comment): where a value stands
 * (opens before `Basic`), up to the value's end, spaces included; in running text, up to a space and only
 * when the password looks like one. A time or ratio and a URL's `//` are kept, and a sentence's full stop.
 * Linear: the next match is looked for after the password, which is read once.
 */
function redactRawBasic(text: string, marker: string): string {
  let out = '';
  let from = 0;
  RAW_BASIC.lastIndex = 0;
  for (let m = RAW_BASIC.exec(text); m !== null; m = RAW_BASIC.exec(text)) {
    const head = m[1] as string;
    const start = m.index + head.length;
    const first = m[2] as string;
    let end = start + first.length;
    if (first.endsWith('"') || first.endsWith("'")) {
      // Quoted (`Basic alice:"p w"`, `\"p w\"` in JSON text): a value, whole, to its closing quote on the line.
      end = quotedEndOnLine(text, end, first);
      out += `${text.slice(from, start)}${marker}`;
      from = RAW_BASIC.lastIndex = end;
      continue;
    }
    const user = head.slice(head.search(SPACE) + 1, -1).trim();
    const word = first.slice(0, trimmedEnd(first, 0, first.length));
    if (first.startsWith('//') || (DIGITS.test(user) && DIGITS.test(word))) continue;
    // A string (of one line) that is only `Basic user:…` is a value, whatever follows the `:`, to its end. One
    // of more lines may be a label (`Basic setup:done in 2s\n…`): judged as running text is, then read as a value.
    const starts = startsText(text, m.index);
    const whole = starts && oneLineLeft(text, end);
    const value =
      opensValue(text, m.index) &&
      (!starts || whole || RAW_PASSWORD_LOOK.test(word) || PICKED_PASSWORDS.has(word.toLowerCase()));
    if (whole) end = Math.max(end, firstLineEnd(text, end));
    if (value) {
      while (end < text.length && !RAW_VALUE_CLOSES.includes(text.charAt(end))) end++;
      RAW_BASIC.lastIndex = end;
    } else if (!RAW_PASSWORD_LOOK.test(word)) continue;
    end = trimmedEnd(text, start, end);
    if (end === start) continue;
    out += `${text.slice(from, start)}${marker}`;
    from = end;
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Just after the quote `quote`, escaped as the opening one (`"p\"w"` holds one), at or after `at`; or the line's end.
 */
function quotedEndOnLine(text: string, at: number, quote: string): number {
  const q = quote.charCodeAt(quote.length - 1);
  for (let i = at; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return i;
    if (c === q && delimits(backslashesBefore(text, i, 127), quote.length - 1)) return i + 1;
  }
  return text.length;
}

/** Where `text` from `start` to `end` ends without its trailing spaces, tabs and full stops (a sentence's). */
function trimmedEnd(text: string, start: number, end: number): number {
  let e = end;
  while (e > start && (isPadding(text.charCodeAt(e - 1)) || text.charCodeAt(e - 1) === 0x2e)) e--;
  return e;
}

function isBearer(scheme: string): boolean {
  return scheme.length === 6; // `bearer`, not `basic`
}

/** A token a person may have picked: no title's word, no word prose puts after `Bearer`, 4+ characters. */
function isPickedToken(token: string): boolean {
  return (
    token.length >= PICKED_MIN_CHARS &&
    !TITLE_WORD.test(token) &&
    !PROSE_AFTER_BEARER.has(token.toLowerCase())
  );
}

/** Whether only spaces or tabs (at most {@link MAX_PADDING}) stand before `at`. */
function startsText(text: string, at: number): boolean {
  let i = at;
  while (i > 0 && at - i < MAX_PADDING && isPadding(text.charCodeAt(i - 1))) i--;
  return i === 0;
}

function firstLineEnd(text: string, at: number): number {
  const lf = text.indexOf('\n', at);
  const cr = text.indexOf('\r', at);
  return Math.min(lf === -1 ? text.length : lf, cr === -1 ? text.length : cr);
}

/** Whether the text from `at` on holds no second line (white space after a line break is none). */
function oneLineLeft(text: string, at: number): boolean {
  const eol = firstLineEnd(text, at);
  if (eol === text.length) return true;
  NON_SPACE.lastIndex = eol;
  return !NON_SPACE.test(text);
}

/**
 * Whether a value opens just before `at` (spaces or tabs between): the text's or a line's start, `:`, `=`, a
 * quote, a bracket, a comma, or an escape right before it.
 */
function opensValue(text: string, at: number): boolean {
  let i = at;
  while (i > 0 && at - i < MAX_PADDING && isPadding(text.charCodeAt(i - 1))) i--;
  if (i === 0 || VALUE_OPENS.includes(text.charAt(i - 1))) return true;
  return i === at && ESCAPE_BEFORE.test(text.slice(Math.max(0, at - 6), at));
}

/**
 * Whether a value closes at `end` (spaces, tabs, `%20` or a full stop between): the text's or a line's end, a quote,
 * `,`, `;`, `&`, a bracket, an escape, or the next field's name (`auth: Bearer changeme user: bob`).
 */
export function closesValue(text: string, end: number): boolean {
  let i = end;
  while (i < text.length && i - end < MAX_PADDING) {
    if (isPadding(text.charCodeAt(i))) i++;
    else if (text.startsWith('%20', i))
      i += 3; // a URL-encoded space
    else break;
  }
  if (i === text.length || VALUE_CLOSES.includes(text.charAt(i))) return true;
  NEXT_FIELD.lastIndex = i;
  return i > end && NEXT_FIELD.test(text);
}

function isPadding(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
