/**
 * A command line's credential flag and its value written after a space (`psql --password hunter2 -h db`,
 * `--api-key 'k y'`), found for `secret-values.ts`; the `--password=…` form is `key-value-secrets.ts`'s. The
 * flag starts a word (after a space, a quote, `(`, `,`, `[`, `{`, or an escape such as `\n` or `%20`) with
 * `--`, its name names a credential as a pair's name does (`--password`, `--db-password`, `--client-secret`;
 * not `--password-file`), and the value is the next word (quoted, with backslash escapes, or bare up to a
 * space, quote, backslash (not one a shell escapes with: `p\$w`, `p\ w`), `;` or `&`; after a flag inside quotes, `"--password p w"`, to the closing quote on its
 * line, at most 1 KiB on, or to that line's end or bound with none) unless that is another flag (`--password --host db` asks for one).
 * The value is replaced, the flag kept (`--password [redacted]`), unless it is a reference to a secret as
 * Docker's `--secret` takes one (`id=npmrc,src=…`: keys and values, a key first). A single dash (`-p`) is no credential's: it
 * names other things as often. Linear: each `--` is found once, its name read forward once, and the next
 * looked for after the name or the value.
 *
 * @module
 */
import { describesCredential, MAX_CREDENTIAL_NAME_CHARS, namesSecretValue } from './credential-keys.js';
import { quotedPairEnd } from './json-text.js';
import { isNameChar, WORD_OPENS } from './name-runs.js';

/** A flag's name after `--` starts with a letter (then letters, digits, `_`, `.` or `-`). */
const LETTER = /^[A-Za-z]/;
const PADDING = /[ \t]+/y;
/** The value: quoted (a quote left open runs to the end; `''` in single quotes too) or bare; not another flag. */
const FLAG_VALUE =
  /'(?:[^'\\]|\\[\s\S]|'')*(?:'|$)|"(?:[^"\\]|\\[\s\S])*(?:"|$)|(?!-)(?:[^\s"'\\;&]|\\[^\sA-Za-z0-9"'\\]|\\ )+/y;
const QUOTE_FIRST = /["']/;
/** A secret's reference as `--secret` takes it: its first key (`id=`, `src=`, `type=`, …). */
const SECRET_REFERENCE = /^(?:id|src|source|type|env|target|uid|gid|mode|required)=/i;
/** An escape's last characters before `--` (`\n`, `\t`, `\u0020`, `%20`). */
const ESCAPE_BEFORE = /(?:\\[nrt]|\\u[0-9A-Fa-f]{4}|%[0-9A-Fa-f]{2})$/;

/** `text` with the value of each credential flag written after a space replaced by `marker`. */
export function redactFlagSecrets(text: string, marker: string): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('--'); at !== -1; ) {
    // The name's run is read once: a `--` inside it starts no word.
    let next = at + 2;
    while (next < text.length && isNameChar(text.charCodeAt(next))) next++;
    const name = text.slice(at + 2, next);
    const spaced = next < text.length && (text.charCodeAt(next) === 0x20 || text.charCodeAt(next) === 0x09);
    if (spaced && startsWord(text, at) && isCredentialFlag(name)) {
      PADDING.lastIndex = next;
      PADDING.test(text);
      const start = PADDING.lastIndex;
      FLAG_VALUE.lastIndex = start;
      if (FLAG_VALUE.test(text)) {
        let end = FLAG_VALUE.lastIndex;
        // A flag inside quotes (`"--password p w"`, an argument list's one element): a bare value runs to the
        // closing quote, as a pair's does.
        if (!QUOTE_FIRST.test(text.charAt(start))) end = Math.max(end, quotedPairEnd(text, at, end));
        if (!isSecretReference(name, text.slice(start, end))) {
          out += `${text.slice(from, start)}${marker}`;
          from = end;
        }
        next = end;
      }
    }
    at = text.indexOf('--', next);
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Whether `el`, an element of an argument vector (`["psql", "--password", "hunter2"]`, as exec tools take
 * their arguments), is a credential's value: the element before it is a credential flag (`--password`, as
 * one element) and it is no flag itself.
 */
export function isFlagValue(before: unknown, el: unknown): boolean {
  if (typeof before !== 'string' || !before.startsWith('--') || before.length > MAX_CREDENTIAL_NAME_CHARS + 2)
    return false;
  if (typeof el === 'string' && (el.startsWith('-') || isSecretReference(before.slice(2), el))) return false;
  const name = before.slice(2);
  for (let i = 0; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return isCredentialFlag(name);
}

/**
 * Whether `value` of the flag `name` names a secret rather than holding one: Docker's and Podman's `--secret`
 * take a reference (`docker build --secret id=npmrc,src=$HOME/.npmrc`, `type=env,id=x`), keys and values.
 */
function isSecretReference(name: string, value: string): boolean {
  return name.toLowerCase() === 'secret' && SECRET_REFERENCE.test(value);
}

function isCredentialFlag(name: string): boolean {
  // `--no-password` is a switch: the word after it is the next argument.
  return (
    LETTER.test(name) &&
    name.length <= MAX_CREDENTIAL_NAME_CHARS &&
    namesSecretValue(name) &&
    !describesCredential(name)
  );
}

function startsWord(text: string, at: number): boolean {
  if (at === 0 || WORD_OPENS.includes(text.charAt(at - 1))) return true;
  return ESCAPE_BEFORE.test(text.slice(Math.max(0, at - 6), at));
}
