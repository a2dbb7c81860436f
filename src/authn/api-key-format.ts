/**
 * The API key format and its hashing. A key is `<prefix>_<id>_<secret>`: `id` is 12 random lowercase
 * base32 characters (public, used for lookup and listing), `secret` is 32 random bytes in base64url (may
 * itself contain `_`, so the key is split at the first two underscores only). The store keeps
 * HMAC-SHA256(pepper, secret) in hex, never the secret; comparison is constant-time and takes the same
 * path whether or not the id exists.
 *
 * @module
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_ID_LENGTH = 12;
export const API_KEY_SECRET_BYTES = 32;
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_RE = new RegExp(`^[${ID_ALPHABET}]{${API_KEY_ID_LENGTH}}$`);
/** 32 bytes in unpadded base64url. */
const SECRET_CHARS = 43;
const SECRET_RE = new RegExp(`^[A-Za-z0-9_-]{${SECRET_CHARS}}$`);
/** A key's prefix, as `authn.apiKeys.prefix` allows it. */
const PREFIX_PATTERN = '[a-z][a-z0-9]{1,15}';
export const API_KEY_PREFIX_RE = new RegExp(`^${PREFIX_PATTERN}$`);

/**
 * An API key of this format (any prefix the config allows), as regex source without anchors: the audit
 * scrubber finds keys in text with it, between the boundaries it chooses.
 */
export const API_KEY_PATTERN = `${PREFIX_PATTERN}_[${ID_ALPHABET}]{${API_KEY_ID_LENGTH}}_[A-Za-z0-9_-]{${SECRET_CHARS}}`;
/** The shortest API key: no text shorter holds one. */
export const API_KEY_MIN_CHARS = 2 + 1 + API_KEY_ID_LENGTH + 1 + SECRET_CHARS;
/** Compared against when the id is unknown or the stored hash is malformed, to keep one code path. */
const DUMMY_HASH = Buffer.alloc(32);

export interface ApiKeyParts {
  readonly prefix: string;
  readonly id: string;
  readonly secret: string;
}

/** A fresh id: 12 characters of base32 (32 divides 256, so `byte % 32` is unbiased). */
export function generateKeyId(): string {
  let id = '';
  for (const b of randomBytes(API_KEY_ID_LENGTH)) id += ID_ALPHABET[b % 32];
  return id;
}

export function generateApiKey(prefix: string): ApiKeyParts & { readonly key: string } {
  const id = generateKeyId();
  const secret = randomBytes(API_KEY_SECRET_BYTES).toString('base64url');
  return { prefix, id, secret, key: `${prefix}_${id}_${secret}` };
}

/** Splits and checks a presented key; null when it is not a well-formed key with this prefix. */
/** Whether `s` has the form of a key id (as `keys list` shows it). */
export function isApiKeyId(s: string): boolean {
  return ID_RE.test(s);
}

export function parseApiKey(key: string, prefix: string): ApiKeyParts | null {
  const first = key.indexOf('_');
  const second = first === -1 ? -1 : key.indexOf('_', first + 1);
  if (second === -1) return null;
  const parts = {
    prefix: key.slice(0, first),
    id: key.slice(first + 1, second),
    secret: key.slice(second + 1),
  };
  if (parts.prefix !== prefix || !ID_RE.test(parts.id) || !SECRET_RE.test(parts.secret)) return null;
  return parts;
}

/** HMAC-SHA256(pepper, secret) as hex: what the store keeps. */
export function hashSecret(pepper: Uint8Array, secret: string): string {
  return createHmac('sha256', pepper).update(secret, 'utf8').digest('hex');
}

/**
 * Constant-time check of `secret` against a stored hex hash. With `storedHash` null (unknown id) or
 * malformed, it still computes the HMAC and compares against a dummy, then answers false.
 */
export function secretMatches(pepper: Uint8Array, secret: string, storedHash: string | null): boolean {
  const actual = createHmac('sha256', pepper).update(secret, 'utf8').digest();
  const expected =
    storedHash !== null && /^[0-9a-f]{64}$/.test(storedHash) ? Buffer.from(storedHash, 'hex') : null;
  const equal = timingSafeEqual(actual, expected ?? DUMMY_HASH);
  return equal && expected !== null;
}
