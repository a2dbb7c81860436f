/**
 * Argument masking for audit records. Masked values are replaced by a keyed tag,
 * `hmac-sha256:<16 hex>` = the first 64 bits of HMAC-SHA256(key, JSON of the value): equal values give
 * equal tags under one key (an auditor holding the key can check "was this SSN used?"), but without the
 * key a low-entropy value (SSN, phone number, PIN) cannot be recovered by hashing every candidate, as it
 * could from a plain hash.
 *
 * Paths are dot-separated keys into the arguments object (`customer.ssn`); `*` matches any key or array
 * index, `**` any number of levels (a path ending in it masks everything below), a number matches that
 * index, and arrays are otherwise transparent (`customers.ssn` masks the `ssn` of every element of
 * `customers`). A path of one key (`ssn`) masks that key at any depth (it is `**.ssn`): a sensitive field
 * nested in an argument is masked too; a one-key `*` or index stays at the top. A path that names an object masks all of it: in `hash` mode
 * every leaf is hashed (keys stay visible), `redact` replaces the whole value, `drop` removes the key.
 *
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto';
import { headOf } from '../cut-text.js';
import {
  type Budget,
  callBudget,
  eachItem,
  eachKey,
  jsonBytes,
  MAX_ARGUMENT_LEAVES,
  MAX_ARGUMENT_TEXT,
  newBudget,
  put,
  type RequestBudget,
  spend,
  TRUNCATED,
} from './argument-budget.js';
import {
  entryValueKey,
  isCredentialSwitch,
  isSensitiveKey,
  jwkPrivateMembers,
  namesCredential,
} from './credential-keys.js';
import { isFlagValue } from './flag-secrets.js';
import { REDACTED, scrubSecretValue } from './secret-values.js';

export { MAX_ARGUMENT_LEAVES, MAX_ARGUMENT_TEXT, REDACTED, TRUNCATED };

/** What happens to a value named by a mask path. */
export type MaskMode = 'hash' | 'redact' | 'drop';
/** What happens to argument values no path names (`audit.arguments`); `drop` leaves arguments out. */
export type ArgumentsMode = 'hash' | 'plain' | 'drop';

export const HMAC_TAG_PREFIX = 'hmac-sha256:';
/** Deeper subtrees are replaced by one tag (hash) or `[truncated]` (plain). */
export const MAX_ARGUMENT_DEPTH = 16;
/** Plain string values longer than this are cut (the record is a log line, not a copy of the request). */
export const MAX_PLAIN_STRING = 1_024;
/**
 * How much of a longer plain string is scanned for secrets before the cut (`secret-values.ts`): a secret
 * that starts before the cut is seen whole if it is shorter than the rest of this (a JWT is a few kB).
 */
export const SCRUB_WINDOW = 8_192;

/** `hmac-sha256:<16 hex>`: the first 64 bits of HMAC-SHA256(key, JSON.stringify(value)). */
export function hmacTag(value: unknown, key: Buffer): string {
  const text = JSON.stringify(value) ?? String(value);
  return HMAC_TAG_PREFIX + createHmac('sha256', key).update(text).digest('hex').slice(0, 16);
}

/**
 * The audit HMAC key from a server secret (e.g. the API-key pepper file), by HKDF with a label of its
 * own, so the secret itself is never used for two purposes. Same secret → same tags on every replica.
 */
export function deriveAuditKey(secret: Buffer | string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), 'mcp-authz audit argument hmac v1', 32));
}

type Path = readonly string[];

interface WalkOptions {
  /** For values a path (or a sensitive key) names. */
  readonly listed: MaskMode;
  /** Keys masked at any depth: the one-key paths (`ssn`), and every path as one key (`pan.number`). */
  readonly anywhere: ReadonlySet<string>;
  /** For everything else. */
  readonly other: 'keep' | 'hash';
  /**
   * Audit walks: credential-named keys are masked, the value of a header pair or `{name, value}` entry
   * naming one (`[["Authorization", "…"]]`), a JWK's private members, and secrets in kept strings
   * (`scrubSecretValue`).
   */
  readonly sensitiveKeys: boolean;
  readonly key: Buffer;
  /** What is left of the record's {@link MAX_ARGUMENT_LEAVES} and {@link MAX_ARGUMENT_TEXT}. */
  readonly budget: Budget;
}

/**
 * The paths split once: one-key names (masked at any depth, a Set lookup per key) and the rest, rooted
 * (a doubled `**` collapsed). The usual obligation is names only, so the walk carries no paths at all.
 */
function parsePaths(paths: readonly string[]): { anywhere: Set<string>; rooted: Path[] } {
  const anywhere = new Set<string>();
  const rooted: Path[] = [];
  for (const text of paths) {
    const p = text.split('.').filter((s, i, all) => s.length > 0 && !(s === '**' && all[i - 1] === '**'));
    const only = p.length === 1 ? (p[0] as string) : undefined;
    if (only !== undefined && only !== '**' && only !== '*' && !/^\d+$/.test(only)) anywhere.add(only);
    else if (p.length > 0) rooted.push(p);
    // A key with dots in it (`pan.number`) cannot be named as a path: the whole text names it too.
    if (text.includes('.')) anywhere.add(text);
  }
  return { anywhere, rooted: unique(rooted) };
}

/** Each path once: the same path reached twice (through `**` and an array) would double the work below. */
function unique(paths: readonly Path[]): Path[] {
  const seen = new Set<string>();
  return paths.filter((p) => {
    const k = p.join('\u0000');
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const NONE: readonly Path[] = [];

/**
 * The paths that apply at this level (`**` matching no level: its rest; a bare `**`: every key here) and
 * those that go on to every level below (`**` paths, unchanged). Without `**`, the paths as they are.
 */
function levels(paths: readonly Path[]): { here: readonly Path[]; deep: readonly Path[] } {
  if (!paths.some((p) => p[0] === '**')) return { here: paths, deep: NONE };
  const deep = paths.filter((p) => p[0] === '**');
  const here = paths.filter((p) => p[0] !== '**');
  for (const p of deep) here.push(p.length > 1 ? p.slice(1) : ['*']);
  return { here: unique(here), deep };
}

/** The paths for one child: what it matched, less its first key, and the `**` paths going on down. */
function below(matched: readonly Path[], deep: readonly Path[]): readonly Path[] {
  if (matched.length === 0 && deep.length === 0) return NONE;
  const next = matched.map((p) => p.slice(1));
  return deep.length === 0 ? next : unique([...next, ...deep]);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every leaf replaced by its tag; object keys and array shapes stay (within the budget). */
function hashLeaves(value: unknown, key: Buffer, depth: number, b: Budget): unknown {
  if (depth >= MAX_ARGUMENT_DEPTH) return spend(b, 0) ? hmacTag(value, key) : TRUNCATED;
  if (Array.isArray(value)) return eachItem(value, b, (v) => hashLeaves(v, key, depth + 1, b));
  if (isPlainObject(value)) {
    return eachKey(value, b, (k, v, out) => put(out, k, hashLeaves(v, key, depth + 1, b)));
  }
  return spend(b, 0) ? hmacTag(value, key) : TRUNCATED;
}

function keepPlain(value: unknown, b: Budget, scrub: boolean): unknown {
  if (typeof value === 'string') {
    // Secrets are replaced before the cut: cut first, a password could lose the `@` that marks it.
    const head = headOf(value, SCRUB_WINDOW);
    const clean = scrub ? scrubSecretValue(head) : head;
    const cut = clean.length > MAX_PLAIN_STRING || head.length < value.length;
    const kept = cut ? `${headOf(clean, MAX_PLAIN_STRING)}…${TRUNCATED}` : clean;
    return spend(b, jsonBytes(kept)) ? kept : TRUNCATED;
  }
  return spend(b, 0) ? value : TRUNCATED;
}

function masked(value: unknown, o: WalkOptions, depth: number): unknown {
  if (o.listed === 'hash') return hashLeaves(value, o.key, depth, o.budget);
  // A redacted value is written too: it costs its text, or the rest is cut (hiding it all the same).
  return spend(o.budget, REDACTED.length + 2) ? REDACTED : TRUNCATED;
}

function walk(value: unknown, paths: readonly Path[], o: WalkOptions, depth: number): unknown {
  if (depth >= MAX_ARGUMENT_DEPTH && (Array.isArray(value) || isPlainObject(value))) {
    return o.other === 'hash' && spend(o.budget, 0) ? hmacTag(value, o.key) : TRUNCATED;
  }
  const { here, deep } = levels(paths);
  if (Array.isArray(value)) {
    const pair = o.sensitiveKeys && namesCredential(value.length === 2 ? value[0] : undefined);
    return eachItem(value, o.budget, (el, i) => {
      if ((pair && i === 1) || (o.sensitiveKeys && i > 0 && isFlagValue(value[i - 1], el)))
        return masked(el, o, depth + 1);
      const idx = String(i);
      const direct = here.filter((p) => p[0] === '*' || p[0] === idx);
      const through = here.filter((p) => !/^\d+$/.test(p[0] as string) && p[0] !== '*');
      if (direct.some((p) => p.length === 1)) return masked(el, o, depth + 1);
      return walk(el, [...below(direct, deep), ...through], o, depth + 1);
    });
  }
  if (isPlainObject(value)) {
    const entry = o.sensitiveKeys ? entryValueKey(value) : undefined;
    const jwk = o.sensitiveKeys ? jwkPrivateMembers(value) : undefined;
    return eachKey(value, o.budget, (k, v, out) => {
      const hits = here.filter((p) => p[0] === '*' || p[0] === k);
      const credential =
        o.sensitiveKeys &&
        (k === entry || (isSensitiveKey(k) && !isCredentialSwitch(k, v)) || jwk?.has(k) === true);
      if (hits.some((p) => p.length === 1) || o.anywhere.has(k) || credential) {
        if (o.listed !== 'drop') put(out, k, masked(v, o, depth + 1));
        return;
      }
      put(out, k, walk(v, below(hits, deep), o, depth + 1));
    });
  }
  // `card.**` names `card` and all below it: a `card` sent as a plain value (the caller picks the shape) is
  // masked as its children would be.
  if (paths.some((p) => p.length === 1 && p[0] === '**')) return masked(value, o, depth);
  if (o.other === 'hash') return spend(o.budget, 0) ? hmacTag(value, o.key) : TRUNCATED;
  return keepPlain(value, o.budget, o.sensitiveKeys);
}

/**
 * Masks the values `paths` name (see the module comment) and leaves the rest as it is. Returns a copy;
 * `args` is not changed.
 */
export function maskArguments(
  args: Readonly<Record<string, unknown>>,
  paths: readonly string[],
  mode: MaskMode,
  key: Buffer,
): Record<string, unknown> {
  const { anywhere, rooted } = parsePaths(paths);
  return walk(
    args,
    rooted,
    { listed: mode, anywhere, other: 'keep', sensitiveKeys: false, key, budget: newBudget() },
    0,
  ) as Record<string, unknown>;
}

export interface AuditArgumentOptions {
  /** `hash` (default): every value hashed; `plain`: values kept except listed/sensitive; `drop`: none. */
  readonly mode: ArgumentsMode;
  /** Paths always masked: the policy's `mask_arguments` obligation plus `audit.maskArguments`. */
  readonly paths: readonly string[];
  /** How listed values are masked (default `hash`). */
  readonly listedMode?: MaskMode;
  readonly key: Buffer;
  /** What the call's request has left to spend (shared by a batch's calls); default: a call's own bound. */
  readonly requestBudget?: RequestBudget;
}

/**
 * The arguments as they go into an audit record. Listed paths and credential-named keys are always
 * masked, whatever the mode; `null` when arguments are left out.
 */
export function auditArguments(
  args: Readonly<Record<string, unknown>> | undefined,
  opts: AuditArgumentOptions,
): Record<string, unknown> | null {
  if (args === undefined || opts.mode === 'drop') return null;
  const { anywhere, rooted } = parsePaths(opts.paths);
  const o: WalkOptions = {
    listed: opts.listedMode ?? 'hash',
    anywhere,
    other: opts.mode === 'hash' ? 'hash' : 'keep',
    sensitiveKeys: true,
    key: opts.key,
    budget: callBudget(opts.requestBudget),
  };
  const textAtStart = o.budget.text;
  const out = walk(args, rooted, o, 0) as Record<string, unknown>;
  const textSpent = textAtStart - o.budget.text;
  if (opts.requestBudget) {
    opts.requestBudget.leaves -= o.budget.used;
    opts.requestBudget.text -= textSpent;
  }
  sizes.set(out, textSpent + TAG_SIZE * o.budget.used);
  return out;
}

/** Bytes a leaf may take beyond its text: a tag (`"hmac-sha256:…"`), a number, punctuation. */
const TAG_SIZE = 32;
const sizes = new WeakMap<object, number>();

/**
 * About how many bytes of JSON the arguments `auditArguments` returned take (at most ~16 kB, from what
 * their budget spent); 0 for anything else. The audit queue is bounded by it as well as by count.
 */
export function auditArgumentsSize(masked: object | null): number {
  return masked === null ? 0 : (sizes.get(masked) ?? 0);
}
