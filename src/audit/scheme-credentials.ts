/**
 * HTTP credentials written with their scheme (RFC 9110 `<scheme> <token68>`), found by value for
 * `secret-values.ts`: a string that is `Bearer …` or `Basic …` and a token68 of 6+ characters that is no word
 * (`Basic plan`, `Bearer tokens` are kept) is a credential, whole; inside longer text, the credential after
 * the scheme when it looks like one (8+ characters with a digit, one of `+/=_~`, or a capital inside, not all
 * capitals), so prose (`the bearer of this letter`, `basic well-known steps`, `BEARER SUBSCRIPTION`) is left
 * alone.
 *
 * @module
 */
import { AFTER_ESCAPE } from './vendor-keys.js';

/** The whole string is `<scheme> <token68>` (RFC 9110): a credential when the token is one. */
const WHOLE_CREDENTIAL = /^\s*(?:bearer|basic)\s+([A-Za-z0-9._~+/-]+=*)\s*$/i;
/** A word, not a credential: letters only, lower case, capitalised or all capitals (`plan`, `SUBSCRIPTION`). */
const WORD = /^(?:[A-Za-z][a-z]*|[A-Z]+)$/;
const WHOLE_CREDENTIAL_MIN_CHARS = 6;
/** `Bearer`/`Basic` as a word, then a token68 (its trailing dots are a sentence's, put back below). */
const CREDENTIAL_IN_TEXT = new RegExp(
  String.raw`(?:(?<![A-Za-z0-9])|${AFTER_ESCAPE})(bearer|basic)(\s+)([A-Za-z0-9._~+/-]+=*)`,
  'gi',
);
/** What a credential has and a word of prose does not. */
const CREDENTIAL_LOOK = /[0-9+/=_~]|.[A-Z]/;
const CREDENTIAL_MIN_CHARS = 8;
/**
 * `text` with its scheme credentials (see the module comment) replaced by `marker`: `marker` itself when the
 * whole text is one.
 */
export function redactSchemeCredentials(text: string, marker: string): string {
  // A header's value on its own (`Bearer abc.def-ghi`): laxer than in text, but a word is no credential.
  const token = WHOLE_CREDENTIAL.exec(text)?.[1];
  if (token !== undefined && token.length >= WHOLE_CREDENTIAL_MIN_CHARS && !WORD.test(token)) return marker;
  return text.replace(CREDENTIAL_IN_TEXT, (whole: string, scheme: string, space: string, found: string) =>
    credentialInText(whole, scheme, space, found, marker),
  );
}

/** Whether `text` may hold `Bearer` or `Basic` (as written in headers, lower or upper case). */
export function hasSchemeWord(text: string): boolean {
  return text.includes('earer') || text.includes('asic') || text.includes('EARER') || text.includes('ASIC');
}

function credentialInText(
  whole: string,
  scheme: string,
  space: string,
  token: string,
  marker: string,
): string {
  // A sentence's full stop is not part of the credential.
  let end = token.length;
  while (end > 0 && token.charCodeAt(end - 1) === 0x2e) end--;
  const credential = token.slice(0, end);
  const looks = CREDENTIAL_LOOK.test(credential) && !WORD.test(credential); // `SUBSCRIPTION` is a word
  if (credential.length < CREDENTIAL_MIN_CHARS || !looks) return whole;
  return `${scheme}${space}${marker}${token.slice(end)}`;
}
