/**
 * Which argument keys name credentials: their values are masked in audit records whatever the mode
 * (`mask.ts`), since a tool argument called `password` or `accessToken` holds one whoever wrote the policy.
 * So is the value beside a credential's name in a header pair or a `{name, value}` entry, and a JWK's private
 * members (`d`, `p`, `k`, …: names that are credentials only in an object with a `kty`), in audit records and
 * by the logger's backstop (`telemetry/log-secrets.ts`) alike.
 *
 * @module
 */

const SENSITIVE_WORDS = new Set([
  'password',
  'passwd',
  'passphrase',
  'pwd',
  'secret',
  'token',
  'apikey',
  'authorization',
  'credential',
  'credentials',
  'cookie',
  'bearer',
]);
const KEY_KINDS = ['api', 'private', 'access', 'secret', 'signing'];
/** Two words naming credentials, one or many (`api_key`, `apiKeys`, `refresh_tokens`; not `max_tokens`). */
const SENSITIVE_PAIRS = new Set([
  ...KEY_KINDS.flatMap((k) => [`${k}_key`, `${k}_keys`]),
  ...['access', 'refresh', 'id', 'auth', 'bearer', 'session', 'api'].map((k) => `${k}_tokens`),
]);
/** Credential names written as one word (`accesstoken`, `clientsecret`, `privatekeys`, `cookies`, `jwt`). */
const SENSITIVE_IN_WORD =
  /password|passwd|passphrase|credential|apikey|privatekey|accesskey|secretkey|signingkey|cookie|jwt|(secret|secrets|token)$|(access|refresh|bearer)tokens$/;

/**
 * True for argument keys that name credentials (`password`, `apiKey`, `client_secret`, `X-Auth-Token`,
 * `accesstoken`, `clientsecret`, `apiKeys`, `refresh_tokens`): these are masked even in `plain` mode. A word
 * ending in `tokens` is not one (`max_tokens` is a count), nor `secretary`.
 */
export function isSensitiveKey(key: string): boolean {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (SENSITIVE_WORDS.has(w) || SENSITIVE_IN_WORD.test(w)) return true;
    if (i + 1 < words.length && SENSITIVE_PAIRS.has(`${w}_${words[i + 1]}`)) return true;
  }
  // The words run together again: camel case splits `passWord` and `passPhrase` into harmless halves.
  return words.length > 1 && SENSITIVE_IN_WORD.test(words.join(''));
}

/** First words that make a name a question or a switch about a credential (`has_password`, `no-password`). */
const STATE_PREFIXES: ReadonlySet<string> = new Set(
  [
    'has have is are was no not non use uses using with without require requires required need needs',
    'enable enabled disable disabled allow allows skip show hide remember save store verify check reset',
    'change force must can should missing empty valid expired',
  ]
    .join(' ')
    .split(' '),
);
/** A credential word with `less` after it (`passwordless`, `tokenless`, `keyless`). */
const WITHOUT_SUFFIX = /less$/;

/**
 * Whether `name` says something about a credential rather than naming one: a question or a switch
 * (`has_password`, `isTokenSet`, `no-password`, `require_secret`), or its absence (`passwordless`). Its
 * boolean value (`true`, `no`, `0`, …) is no secret; `password`, `DB_PASSWORD` and `api_key` name one.
 */
export function describesCredential(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
  const first = words[0] ?? '';
  return (words.length > 1 && STATE_PREFIXES.has(first)) || WITHOUT_SUFFIX.test(words.at(-1) ?? '');
}

/** The words of a switch's state (a boolean's, or an absent value's), as a pattern's alternatives. */
export const SWITCH_WORDS = 'true|false|yes|no|on|off|null|none|0|1';
const BOOLEAN_WORD = new RegExp(`^(?:${SWITCH_WORDS})$`, 'i');

/**
 * Whether `value` under the key `name` is a switch's state, not a credential: a boolean (`null`, `0`, `1`,
 * `"yes"`, … too) of a name that says something about a credential ({@link describesCredential}:
 * `passwordless: true`, `has_password: false`), as the text scrub keeps `passwordless=true`. `password: true`
 * names one and is masked.
 */
export function isCredentialSwitch(name: string, value: unknown): boolean {
  const state =
    typeof value === 'boolean' ||
    value === null ||
    value === 0 ||
    value === 1 ||
    (typeof value === 'string' && value.length <= 5 && BOOLEAN_WORD.test(value));
  return state && describesCredential(name);
}

/**
 * Words that say what state a credential is in, as an error or a status writes it after the credential's name
 * and a colon (`invalid token: expired`), in any case (`token: MISSING`, as a status or a shell writes it). A
 * fixed list: another word, even in capitals (`token: JBSWYDPE`, which base32 writes too), is taken for a
 * credential; when unsure, redact. Words people pick as passwords (`hidden`, `masked`, `unknown`, `forbidden`,
 * `valid`, `present`, `provided`) are not in it, though a status may write them: `password: hidden` may be one.
 */
const STATE_WORDS: ReadonlySet<string> = new Set(
  [
    'expired invalid missing revoked malformed required empty absent undefined unset none null',
    'nil denied rejected unauthorized redacted',
  ]
    .join(' ')
    .split(' '),
);
const STATE_WORD_MAX = 12;

/** Whether `value` (a full stop after it allowed) is one of {@link STATE_WORDS}. */
export function isStateWord(value: string): boolean {
  if (value.length > STATE_WORD_MAX + 1) return false;
  const word = value.endsWith('.') ? value.slice(0, -1) : value;
  return STATE_WORDS.has(word.toLowerCase());
}

/**
 * The longest name {@link namesCredential} reads (AWS allows tag keys of 128 characters; header and variable
 * names are shorter). Longer text names nothing: it is the caller's or a log line's, and reading it word by
 * word costs ~0.7 µs a character, 0.7 s of event loop for a 1 MiB name in a logged pair or a tool argument.
 */
export const MAX_CREDENTIAL_NAME_CHARS = 128;

/** What every credential's name holds (`isSensitiveKey`'s words): a name without it is not read further. */
export const CREDENTIAL_HINT = /pass|pwd|secret|token|key|auth|credential|cookie|jwt|bearer/i;
const CAMEL = /([a-z0-9])([A-Z])/g;
const NOT_ALNUM = /[^A-Za-z0-9]+/;
/** The last word of a two-word credential's name (`api_key`, `secretKeys`, `refresh_tokens`). */
const PAIR_END = /^(?:keys?|tokens)$/i;

/**
 * What follows the last character of `name` that is no letter or digit (`count_0` of `token_count_0`): the
 * credential word a credential's name ends in is there, so a name whose segment holds no hint is not read
 * word by word (a JSON body's members cost a scan each, not a split).
 */
function lastSegment(name: string): string {
  let i = name.length;
  while (i > 0 && isAlnum(name.charCodeAt(i - 1))) i--;
  return i === 0 ? name : name.slice(i);
}

function isAlnum(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
}

/**
 * Whether `name` ends in a credential's name: its last word (`password`, `DB_PASSWORD`, `sslpassword`), or its
 * last two when they end in `key`, `keys` or `tokens` and together name one (`api_key`, `SECRET_KEY`,
 * `refresh_tokens`); `secret_name` ends in `name`.
 */
export function namesSecretValue(name: string): boolean {
  if (name.length > MAX_CREDENTIAL_NAME_CHARS || !CREDENTIAL_HINT.test(lastSegment(name))) return false;
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

/**
 * Whether `name` (a header pair's first element, a `{name, value}` entry's name: HTTP header lists, HAR,
 * Kubernetes `env`) names a credential, so the value beside it is masked as a credential-named key's is.
 * The value beside a longer name is still scanned for secrets by value.
 */
export function namesCredential(name: unknown): boolean {
  return typeof name === 'string' && name.length <= MAX_CREDENTIAL_NAME_CHARS && isSensitiveKey(name);
}

/**
 * The key of an entry's value when the entry names a credential: `value` beside `name` or `key` (HAR headers,
 * Kubernetes `env`), `Value` beside `Name` or `Key` (AWS tags and parameters).
 */
export function entryValueKey(entry: Readonly<Record<string, unknown>>): string | undefined {
  if ('value' in entry && namesCredential(entry.name ?? entry.key)) return 'value';
  if ('Value' in entry && namesCredential(entry.Name ?? entry.Key)) return 'Value';
  return undefined;
}

/**
 * A JWK's members that hold its private or secret key (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2: `d` of
 * EC and OKP keys; `priv` of the AKP keys drafted for ML-DSA); `oth` holds further primes and their exponents.
 */
export const JWK_PRIVATE_MEMBERS: ReadonlySet<string> = new Set([
  'd',
  'p',
  'q',
  'dp',
  'dq',
  'qi',
  'oth',
  'k',
  'priv',
]);

/** {@link JWK_PRIVATE_MEMBERS} when `entry` is a JWK (its `kty` a string), to be masked as credentials. */
export function jwkPrivateMembers(entry: Readonly<Record<string, unknown>>): ReadonlySet<string> | undefined {
  return typeof entry.kty === 'string' ? JWK_PRIVATE_MEMBERS : undefined;
}
