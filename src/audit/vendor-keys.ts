/**
 * Other vendors' credentials, found by their well-known shapes (those gitleaks and detect-secrets match): what
 * `secret-values.ts` replaces besides this sidecar's own API keys (`authn/api-key-format.ts`). Each shape is a
 * prefix no word starts with and a minimum length no word reaches, between characters no key holds (or after
 * an escape such as `\n` or `%20`, {@link AFTER_ESCAPE}):
 *
 * | vendor | shape |
 * | --- | --- |
 * | OpenAI (`sk-…`) and others' `sk-` keys | `sk-` and 32+ letters and digits, a digit among them |
 * | OpenAI project, service account, admin keys | `sk-proj-`, `sk-svcacct-`, `sk-admin-`, `sk-None-` and 40+ of `[A-Za-z0-9_-]`, a digit and a capital among them |
 * | Anthropic (`sk-ant-api03-…`, `sk-ant-admin01-…`) | `sk-ant-`, 3 to 6 letters, 2 digits, `-` and 80+ of `[A-Za-z0-9_-]`, a digit and a capital among them |
 * | GitHub tokens | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and 36+ of `[A-Za-z0-9]` |
 * | GitHub fine-grained tokens | `github_pat_` and 82+ of `[A-Za-z0-9_]` |
 * | AWS access key ids | `AKIA`, `ASIA`, `ABIA`, `ACCA` and exactly 16 of `[A-Z0-9]` |
 * | Slack tokens | `xoxa-`, `xoxb-`, `xoxp-`, `xoxo-`, `xoxs-`, `xoxr-`, `xoxe-` (a rotating token's `xoxe.xoxp-` too), `xapp-` and 10+ of `[A-Za-z0-9-]`, a digit among them |
 * | Google API keys | `AIza` and exactly 35 of `[A-Za-z0-9_-]` |
 * | Stripe secret and restricted keys | `sk_live_`, `sk_test_`, `rk_live_`, `rk_test_` (`_prod_` too) and 24+ of `[A-Za-z0-9]` |
 * | PEM private keys | `-----BEGIN … PRIVATE KEY-----` to its `-----END …-----`: the body |
 * | PuTTY private key files | after `PuTTY-User-Key-File-…`, from `Private-Lines:` to `Private-MAC:`: the private lines |
 *
 * A key becomes the marker; a private key keeps its two armour lines (`-----BEGIN RSA PRIVATE KEY-----[redacted]
 * -----END RSA PRIVATE KEY-----`), so the record says what was there, and a block without its end (text cut
 * short) loses everything after its first line; a PuTTY file keeps its header, public lines and MAC
 * (`Private-Lines:[redacted]Private-MAC: …`), or loses all after `Private-Lines:` when cut before its MAC.
 * Linear: one regex whose candidates start only where a key may (a prefix after no key character) and cannot
 * backtrack into one another, and one pass from each `BEGIN` to its `END` (each PuTTY header to its MAC); a
 * cheap test runs first, so most text costs one scan.
 *
 * @module
 */

/** An escape that ends in a letter or digit, as text that holds JSON or a URL writes them (regex source). */
export const ESCAPE = String.raw`\\[nrt]|\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2}`;
/**
 * Just after an {@link ESCAPE} (`…\nghp_…`, `\u0020AKIA…`, `%20sk-…`): the character before a secret there is
 * the escape's, not a word's. Read backwards from the candidate: constant work.
 */
export const AFTER_ESCAPE = `(?<=${ESCAPE})`;
/** Where a key or a JWT may start: after no letter, digit, `_` or `-`, or after an escape. */
export const KEY_START = `(?:(?<![A-Za-z0-9_-])|${AFTER_ESCAPE})`;
/** {@link KEY_START}, checked behind `start` (regex source) once it is matched: for a pattern that opens with it. */
export const KEY_START_BEHIND = (start: string): string => `(?<=(?:^|[^A-Za-z0-9_-]|${ESCAPE})${start})`;

/** Text that may hold one of the keys: the prefixes alone. */
const MAY_HOLD_KEY =
  /sk-|k_(?:live|test|prod)_|gh[pousr]_|github_pat_|A(?:KIA|SIA|BIA|CCA|Iza)|xox[abposre]-|xapp-/;
/** Every key of the table above; a key character (`[A-Za-z0-9_-]`) may stand on neither side. */
const KEYS_IN_TEXT = new RegExp(
  `${KEY_START}(?:${[
    'sk-ant-[a-z]{3,6}[0-9]{2}-[A-Za-z0-9_-]{80,}',
    'sk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{40,}',
    'sk-[A-Za-z0-9]{32,}',
    'gh[pousr]_[A-Za-z0-9]{36,}',
    'github_pat_[A-Za-z0-9_]{82,}',
    '(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}',
    '(?:xoxe\\.)?xox[abposre]-[A-Za-z0-9-]{10,}',
    'xapp-[A-Za-z0-9-]{10,}',
    'AIza[A-Za-z0-9_-]{35}',
    '[sr]k_(?:live|test|prod)_[A-Za-z0-9]{24,}',
  ].join('|')})(?![A-Za-z0-9_-])`,
  'g',
);
/**
 * The prefixes of shapes whose alphabet also writes words and numbers: after it a key holds a digit, and in
 * the shapes whose alphabet holds `-` (the first group) a capital too: `sk-proj-release-2024-…` is a slug, a
 * key is random base64url, its digits and capitals many.
 */
const WORDLIKE_PREFIX =
  /^(?:(sk-ant-[a-z]+\d\d-|sk-(?:proj|svcacct|admin|None)-)|sk-|(?:xoxe\.)?xox[a-z]-|xapp-)/;
const DIGIT = /\d/;
const CAPITAL = /[A-Z]/;

const BEGIN = '-----BEGIN ';
const END = '-----END ';
const DASHES = '-----';
/** The label of a private key's armour line: `PRIVATE KEY`, `RSA PRIVATE KEY`, `PGP PRIVATE KEY BLOCK`, … */
const PRIVATE_KEY_LABEL = /^[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?$/;
const LABEL_MAX = 64;
const PUTTY_HEADER = 'PuTTY-User-Key-File-';
const PRIVATE_LINES = 'Private-Lines:';
const PRIVATE_MAC = 'Private-MAC:';

/** `text` with the vendor keys and private key blocks it holds (see the module comment) replaced by `marker`. */
export function redactVendorKeys(text: string, marker: string): string {
  let out = MAY_HOLD_KEY.test(text)
    ? text.replace(KEYS_IN_TEXT, (key) => (looksRandom(key) ? marker : key))
    : text;
  if (out.includes(BEGIN)) out = redactPrivateKeys(out, marker);
  if (out.includes(PUTTY_HEADER)) out = redactPuttyKeys(out, marker);
  return out;
}

/** Whether a candidate has the digits (and capitals) its shape's keys have, the prefix's own not counted. */
function looksRandom(key: string): boolean {
  const prefix = WORDLIKE_PREFIX.exec(key);
  if (prefix === null) return true;
  const body = key.slice(prefix[0].length);
  return DIGIT.test(body) && (prefix[1] === undefined || CAPITAL.test(body));
}

/**
 * Each private key block's body replaced by `marker`, its armour lines kept; a block with no end loses the
 * rest of the text. Each character is read once: a label is read up to {@link LABEL_MAX} characters, the body
 * once by the search for its end, which the next search starts after.
 */
function redactPrivateKeys(text: string, marker: string): string {
  let out = '';
  let from = 0;
  let at = text.indexOf(BEGIN);
  while (at !== -1) {
    const label = at + BEGIN.length;
    const close = text.indexOf(DASHES, label);
    if (close === -1) break;
    if (close - label > LABEL_MAX || !PRIVATE_KEY_LABEL.test(text.slice(label, close))) {
      at = text.indexOf(BEGIN, close);
      continue;
    }
    const body = close + DASHES.length;
    out += `${text.slice(from, body)}${marker}`;
    const end = text.indexOf(END, body);
    if (end === -1) return out;
    from = end;
    at = text.indexOf(BEGIN, end + END.length);
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * The private lines of each PuTTY key file (`Private-Lines:` to `Private-MAC:`) replaced by `marker`; a file
 * cut before its MAC loses the rest of the text. Each search starts where the last one ended: linear.
 */
function redactPuttyKeys(text: string, marker: string): string {
  let out = '';
  let from = 0;
  let at = text.indexOf(PUTTY_HEADER);
  while (at !== -1) {
    const lines = text.indexOf(PRIVATE_LINES, at);
    if (lines === -1) break;
    const body = lines + PRIVATE_LINES.length;
    out += `${text.slice(from, body)}${marker}`;
    const mac = text.indexOf(PRIVATE_MAC, body);
    if (mac === -1) return out;
    from = mac;
    at = text.indexOf(PUTTY_HEADER, mac);
  }
  return from === 0 ? text : out + text.slice(from);
}
