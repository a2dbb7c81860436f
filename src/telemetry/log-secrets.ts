/**
 * The process logger's backstop against secrets (`logger.ts`): nothing should log a credential, but if
 * something does, a log object's fields named like one (`SECRET_FIELDS`, the credential headers; any case)
 * are replaced by `[redacted]` at any depth, and so are the value of a header pair or `{name, value}` entry
 * naming a credential (`[['Authorization', …]]`, `{name: 'DB_PASSWORD', value: …}`) and a JWK's private
 * members (`d`, `p`, `k`, … beside a `kty`), as audit records mask them (`audit/credential-keys.ts`), and
 * secrets found in its strings by their value (`audit/secret-values.ts`: a URL's password, `Bearer …`, a JWT,
 * an API key, another vendor's key, a private key).
 *
 * Pino's own `redact` paths cannot say "at any depth" (its wildcards match one level), so this is a walk,
 * run by pino's `formatters.log` (the object of each line) and `formatters.bindings` (a child logger's,
 * once); the message is scrubbed by value too ({@link redactLogMessage}). It copies only what it changes: a
 * line with nothing to redact is written as it was given. It is bounded: past {@link MAX_LOG_SCAN_DEPTH}
 * levels or {@link MAX_LOG_SCAN_NODES} values, what was not looked at is not written (`[truncated]`), so
 * nothing reaches the line unscanned; a cycle is `[Circular]` (an object holding one is copied). Objects are
 * walked as JSON writes them: errors by their own properties (`message`, `stack`, `cause` too), an object
 * with `toJSON` (a URL, a Date) by what that returns, any other by its own enumerable properties (a class
 * instance's fields, copied to a plain object if one is redacted); a Buffer or typed array is left as it is.
 *
 * @module
 */
import { types } from 'node:util';
import { TRUNCATED } from '../audit/argument-budget.js';
import { entryValueKey, jwkPrivateMembers, namesCredential } from '../audit/credential-keys.js';
import { isFlagValue } from '../audit/flag-secrets.js';
import { MIN_SECRET_CHARS, REDACTED, scrubSecretValue } from '../audit/secret-values.js';

/** Field names whose values never reach a log line, at any depth. */
export const SECRET_FIELDS = ['authorization', 'token', 'apiKey', 'secret', 'password'] as const;

/** The same names and the credential headers, lower-cased: a key is compared lower-cased. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
  ...SECRET_FIELDS.map((f) => f.toLowerCase()),
  'api_key',
  // OAuth's own credential fields, as an error from a client library carries them (exact names only: a field
  // that merely contains "secret", such as `secret_name`, says which secret, not what it is).
  'client_secret',
  'access_token',
  'refresh_token',
  'id_token',
  'private_key',
  'x-api-key',
  'x-auth-token',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);

export const MAX_LOG_SCAN_DEPTH = 16;
export const MAX_LOG_SCAN_NODES = 2_000;

interface Scan {
  /** Values left to look at. */
  nodes: number;
  /** The objects being walked: a reference back to one is written `[Circular]`, as pino would. */
  readonly path: object[];
}

/**
 * What a cycle is written as. Not the object itself: had anything in it been redacted, the line would hold the
 * redacted copy, whose reference back to the original (not on pino's path) would be written out unredacted.
 */
const CIRCULAR = '[Circular]';

/** `obj` with its secrets redacted: `obj` itself when it holds none. */
export function redactLogObject<T extends object>(obj: T): T {
  return scan(obj, { nodes: MAX_LOG_SCAN_NODES, path: [] }, 0) as T;
}

/**
 * The line's message (pino's serializer of `msg`), which `formatters.log` never sees: the text passed to the
 * log call, after `%s` substitution, or an error's `message` when the call gives none (`logger.error(err)`).
 */
export function redactLogMessage(msg: unknown): unknown {
  if (typeof msg === 'string') return msg.length < MIN_SECRET_CHARS ? msg : scrubSecretValue(msg);
  return typeof msg === 'object' && msg !== null ? redactLogObject(msg) : msg;
}

function scan(value: unknown, s: Scan, depth: number): unknown {
  if (typeof value === 'string') return value.length < MIN_SECRET_CHARS ? value : scrubSecretValue(value);
  if (typeof value !== 'object' || value === null) return value;
  const error = !Array.isArray(value) && !isPlain(value) && isError(value);
  if (!error && !Array.isArray(value) && !isPlain(value)) return scanOther(value, s, depth);
  return scanWalked(value, s, depth, error);
}

function scanWalked(value: object, s: Scan, depth: number, error: boolean): unknown {
  if (s.path.includes(value)) return CIRCULAR;
  if (depth >= MAX_LOG_SCAN_DEPTH) return TRUNCATED;
  s.path.push(value);
  try {
    return Array.isArray(value) ? scanArray(value, s, depth) : scanObject(value, s, depth, error);
  } finally {
    s.path.pop();
  }
}

/**
 * Any other object as JSON writes it: what its `toJSON` returns (a URL's `href`, a Date's text), else its own
 * enumerable properties (a class instance's fields, which pino's `redact` paths reached too). A Buffer or
 * typed array (its bytes) holds no field or text to scan.
 */
function scanOther(value: object, s: Scan, depth: number): unknown {
  if (ArrayBuffer.isView(value)) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON !== 'function') return scanWalked(value, s, depth, false);
  let json: unknown;
  try {
    json = toJSON.call(value, '');
  } catch {
    return value; // pino's own stringify meets the same error
  }
  if (json === value) return scanWalked(value, s, depth, false);
  if (depth >= MAX_LOG_SCAN_DEPTH) return TRUNCATED;
  const next = scan(json, s, depth + 1);
  return next === json ? value : next;
}

function scanArray(value: readonly unknown[], s: Scan, depth: number): unknown {
  // A header pair naming a credential (`['Authorization', 'Bearer …']`): its value is one.
  const pair = value.length === 2 && namesCredential(value[0]);
  let out: unknown[] | undefined;
  for (let i = 0; i < value.length; i++) {
    const v = value[i];
    let next: unknown = TRUNCATED;
    // An argument vector's credential flag (`["--password", "hunter2"]`): the element after it is its value.
    const secret = (pair && i === 1) || (i > 0 && isFlagValue(value[i - 1], v));
    if (s.nodes-- > 0) next = secret && v !== undefined ? REDACTED : scan(v, s, depth + 1);
    if (next !== v) {
      out ??= value.slice();
      out[i] = next;
    }
  }
  return out ?? value;
}

function scanObject(value: object, s: Scan, depth: number, error: boolean): unknown {
  // An error's message, stack and cause are its own properties, but not enumerable ones.
  const keys = error ? Object.getOwnPropertyNames(value) : Object.keys(value);
  // A `{name, value}` entry naming a credential (HAR headers, Kubernetes `env`, AWS tags): its value is one;
  // so are a JWK's private members.
  const entry = error ? undefined : credentialEntry(value);
  const jwk = error ? undefined : privateMembers(value);
  const values: unknown[] = [];
  let changes: Map<string, unknown> | undefined;
  for (const k of keys) {
    let v: unknown;
    let next: unknown;
    try {
      v = (value as Record<string, unknown>)[k];
      if (s.nodes-- <= 0) next = TRUNCATED;
      else if ((k === entry || SECRET_KEYS.has(k.toLowerCase()) || jwk?.has(k)) && v !== undefined)
        next = REDACTED;
      else next = scan(v, s, depth + 1);
    } catch {
      next = TRUNCATED; // a getter that throws: what it holds cannot be looked at
    }
    values.push(v);
    if (next === v) continue;
    changes ??= new Map();
    changes.set(k, next);
  }
  if (!changes) return value;
  if (!error) {
    // A plain object with what was read (a getter is not called twice); a `__proto__` key (JSON.parse makes
    // it an ordinary one) is set as one, not as the prototype.
    const out: Record<string, unknown> = {};
    keys.forEach((k, i) => {
      const v = changes.has(k) ? changes.get(k) : values[i];
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    });
    return out;
  }
  // The same kind of error (pino writes its `type` and `stack`), with the changed properties replaced before
  // the copy is made: a frozen error's properties could not be redefined on it.
  // An accessor is copied as the value it gave: on Node 22 and later `stack` is one, and its getter gives
  // nothing on another object than the error itself.
  const descriptors = Object.getOwnPropertyDescriptors(value) as Record<string, PropertyDescriptor>;
  keys.forEach((k, i) => {
    const d = descriptors[k];
    const v = changes.has(k) ? changes.get(k) : d?.get ? values[i] : undefined;
    if (changes.has(k) || d?.get)
      descriptors[k] = { value: v, enumerable: d?.enumerable ?? true, writable: true, configurable: true };
  });
  return Object.create(Object.getPrototypeOf(value), descriptors) as object;
}

/** The key of `value`'s value when it is an entry naming a credential; a getter that throws names none. */
function credentialEntry(value: object): string | undefined {
  try {
    return entryValueKey(value as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** A JWK's private members when `value` is a JWK; a getter that throws makes it none. */
function privateMembers(value: object): ReadonlySet<string> | undefined {
  try {
    return jwkPrivateMembers(value as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/** An error, of this realm or another (a `vm` context's, whose errors are no `instanceof Error` here). */
function isError(value: object): boolean {
  return value instanceof Error || types.isNativeError(value);
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
