/**
 * A per-revision cache of policy results. A compiled policy is a pure function of its input and data,
 * except for two context fields that differ on every request (`context.time`, `context.request_id`)
 * and the one non-deterministic builtin the wasm runtime offers (`rand.intn`). The key is therefore the
 * input minus those two fields and minus the other clock fields the policy never names (for the default
 * policy `minute` and `date`), so the clock fields it does read (`hour`, `weekday`) decide how long an
 * entry serves. Every other field — the client address, the session, the environment — is always in the
 * key: a policy can read it without naming it (`walk(input)`, iterating over `input.context`), and one
 * sample could never show that a deny list ignores it.
 *
 * Two checks keep a policy that does read a left-out field from being cached wrongly. When a bundle is
 * loaded ({@link cacheability}): a policy that names `time` or `request_id` anywhere in its wasm (a field
 * access compiles to the name as a string constant; a literal path `"context/time"` or a pattern
 * `\.time` holds it too), data that holds either name (a lookup through data), or a call of `rand.intn`
 * turns the cache off for the revision; a clock field named either way stays in the key. And every miss
 * is evaluated a second time with every left-out field changed ({@link probeInput}); only a result that
 * stays the same is kept, and one that changes turns the cache off for the revision.
 *
 * @module
 */
import type { Bundle } from './bundle.js';
import type { Decision } from './decision.js';
import type { PolicyInput } from './input.js';
import { subjectJson } from './input-json.js';

/** Context fields left out of the key: they are new on every request. */
export const VOLATILE_CONTEXT_FIELDS = ['time', 'request_id'] as const;
/** Clock fields left out of the key when the policy never names them; all other fields are always in it. */
export const CLOCK_CONTEXT_FIELDS = ['hour', 'minute', 'weekday', 'date'] as const;
/** Inputs whose key is longer than this are not cached (large arguments would crowd out the rest). */
export const MAX_KEY_CHARS = 8_192;
/** The keys of one cache hold at most this many characters in all (~8 MB); the oldest go first. */
export const MAX_CACHE_CHARS = 4_000_000;

export type Cacheability =
  | {
      readonly cacheable: true;
      /** Time, request id and the clock fields the policy never names: left out of the key (and probed). */
      readonly unused: ReadonlySet<string>;
    }
  | { readonly cacheable: false; readonly why: string };

/**
 * Whether results of `wasm` with `data` may be cached (see the module comment), and which clock fields it
 * never names. A field access compiles to the name as a string constant, a literal path or pattern holds it
 * inside a longer string: any occurrence not inside a longer identifier counts. A data key or string counts
 * when it is the name or a path to it (`context/time`, `context.time`; not prose). A name there by accident
 * only keeps a field in the key, or the revision uncached: the safe direction.
 */
export function cacheability(wasm: Uint8Array, data: unknown): Cacheability {
  const text = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength).toString('latin1');
  if (text.includes('rand.intn')) return { cacheable: false, why: 'the policy calls rand.intn' };
  const named = (f: string) => new RegExp(`(^|[^A-Za-z0-9_])${f}($|[^A-Za-z0-9_])`);
  const path = (f: string) => new RegExp(`(^|[/.])${f}($|[/.])`);
  for (const field of VOLATILE_CONTEXT_FIELDS) {
    if (named(field).test(text)) return { cacheable: false, why: `the policy names the field "${field}"` };
    if (dataMentions(data, path(field))) return { cacheable: false, why: `the policy data names "${field}"` };
  }
  const clock = CLOCK_CONTEXT_FIELDS.filter((f) => !named(f).test(text) && !dataMentions(data, path(f)));
  return { cacheable: true, unused: new Set([...VOLATILE_CONTEXT_FIELDS, ...clock]) };
}

function dataMentions(value: unknown, name: RegExp): boolean {
  if (typeof value === 'string') return name.test(value);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).some(([k, v]) => name.test(k) || dataMentions(v, name));
  return false;
}

/** A number per subject object, never reused: the key names the subject by it instead of its JSON. */
const subjectSerials = new WeakMap<object, number>();
/** The serials of recent subjects by their JSON, so a new object for a known subject gets its old serial. */
const serialsByJson = new Map<string, number>();
/** Subjects remembered by JSON, and the longest JSON remembered: at most 40 MB, about 4 MB usually. */
export const MAX_SUBJECTS_BY_JSON = 10_000;
const MAX_SUBJECT_JSON_CHARS = 4_096;
let nextSerial = 0;

function subjectSerial(input: PolicyInput): number {
  let serial = subjectSerials.get(input.subject);
  if (serial !== undefined) return serial;
  // A new subject object: usually a new subject, but one rebuilt for every request when the token
  // cache is off (`authn.jwt.cacheMaxEntries: 0`) or an API key was read again; its JSON finds its serial.
  const json = subjectJson(input);
  serial = serialsByJson.get(json);
  if (serial === undefined) {
    serial = nextSerial++;
    if (json.length <= MAX_SUBJECT_JSON_CHARS) {
      if (serialsByJson.size >= MAX_SUBJECTS_BY_JSON) {
        serialsByJson.delete(serialsByJson.keys().next().value as string);
      }
      serialsByJson.set(json, serial);
    }
  }
  subjectSerials.set(input.subject, serial);
  return serial;
}

/**
 * The cache key of `input` without the context fields in `unused`, or undefined when it is too large to
 * cache (or cannot be serialised). The subject is named by a serial number: input building hands out one
 * subject object per principal and the token and key caches keep one principal per credential, so on the
 * usual path it is one WeakMap lookup, and the key stays short (the subject's JSON with the token's claims
 * doubled the key, and a long key costs its length twice per lookup: hashed, then compared).
 */
export function cacheKey(input: PolicyInput, unused: ReadonlySet<string>): string | undefined {
  try {
    // One flat array of values, written out once: the context's and the resource's field names are the same
    // in every input (input building writes every field, always in the same order), and left out they no
    // longer lengthen the key, which a lookup hashes and compares; nor is a context object built to write.
    const values: unknown[] = [subjectSerial(input)];
    const all = input.context as Readonly<Record<string, unknown>>;
    for (const k in all) if (!unused.has(k)) values.push(all[k]);
    const r = input.resource;
    values.push(r.kind, r.name);
    // JSON texts joined by U+0000, which JSON.stringify never writes unescaped: still one text per input.
    const key = `${JSON.stringify(values)}\u0000${annotationsJson(r.annotations)}\u0000${JSON.stringify(input.action)}`;
    return key.length <= MAX_KEY_CHARS ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The JSON of frozen annotations, by object: the annotation cache hands out one frozen object per tool. */
const annotationTexts = new WeakMap<object, string>();

function annotationsJson(annotations: object): string {
  if (!Object.isFrozen(annotations)) return JSON.stringify(annotations);
  let text = annotationTexts.get(annotations);
  if (text === undefined) {
    text = JSON.stringify(annotations);
    annotationTexts.set(annotations, text);
  }
  return text;
}

/** A century, six weeks, 12 h 30 min: the probe's `time` differs in every part (see {@link probeInput}). */
const PROBE_TIME_SHIFT_MS = (((100 * 365 + 24 + 42) * 24 + 12) * 60 + 30) * 60_000;

/**
 * `input` with every context field in `unused` changed, its key unchanged: `time` moved
 * {@link PROBE_TIME_SHIFT_MS} ahead and 29 s within its minute (an entry answers at any later time its key
 * allows, so a grant ending before then must be seen to end), `date` to that instant's, a clock field by
 * half its range, another number by one, a string or null to another; undefined for a bad `time`.
 */
export function probeInput(input: PolicyInput, unused: ReadonlySet<string>): PolicyInput | undefined {
  const ms = Date.parse(input.context.time);
  if (Number.isNaN(ms)) return undefined;
  const second = new Date(ms).getUTCSeconds();
  const later = new Date(ms + PROBE_TIME_SHIFT_MS + (second < 30 ? 29_000 : -29_000)).toISOString();
  const context: Record<string, unknown> = { ...input.context };
  for (const field of unused) {
    if (!(field in context)) continue;
    const v = context[field];
    if (field === 'time') context.time = later;
    else if (field === 'date') context.date = later.slice(0, 10);
    else if (typeof v === 'number') context[field] = probeNumber(field, v);
    else if (typeof v === 'boolean') context[field] = !v;
    else context[field] = `${typeof v === 'string' ? v : ''}~probe`;
  }
  return { ...input, context: context as PolicyInput['context'] };
}

/**
 * A probe value for a number: clock fields move half their range (a minute past 30 to before it, an hour
 * across noon), so a threshold the policy compares them with is crossed; any other number moves by one.
 */
function probeNumber(field: string, v: number): number {
  if (field === 'minute') return (v + 30) % 60;
  if (field === 'hour') return (v + 12) % 24;
  if (field === 'weekday') return (v + 3) % 7;
  return v + 1;
}

/** Freezes a JSON-like value all the way down (a cached result is shared by later requests). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Whose share of a cache a result counts against: the subject as a person, not as one token (the serial in
 * the key changes with each token's claims, `iat` and `jti` included, so refreshed tokens would each get a
 * share of their own).
 */
export function cacheOwner(input: PolicyInput): string {
  const s = input.subject;
  return `${s.auth_method}\u0000${s.tenant ?? ''}\u0000${s.id ?? ''}`;
}

/** The share of a cache's entries one subject may hold. */
export const SUBJECT_SHARE = 0.1;

/**
 * A map bounded by entries and by the characters of its keys; when full, the oldest entries go (entries
 * of past minutes stop being asked for, so they are the first to leave). One subject holds at most
 * {@link SUBJECT_SHARE} of the entries: past that its own oldest entry goes, so a caller sending calls that
 * never repeat (arguments made unique; denied calls cost it nothing) churns its own share, not everyone's.
 */
export class DecisionCache<V> {
  readonly #max: number;
  readonly #maxChars: number;
  readonly #perSubject: number;
  readonly #entries = new Map<string, { readonly value: V; readonly owner: string }>();
  /** Each subject's keys, oldest first. */
  readonly #byOwner = new Map<string, Set<string>>();
  #chars = 0;

  constructor(maxEntries: number, maxChars = MAX_CACHE_CHARS) {
    this.#max = maxEntries;
    this.#maxChars = maxChars;
    this.#perSubject = Math.max(1, Math.ceil(maxEntries * SUBJECT_SHARE));
  }

  get(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Keeps `value` under `key`, counted against `owner`'s share (see {@link cacheOwner}). */
  set(key: string, value: V, owner = ''): void {
    if (this.#entries.has(key)) return;
    const mine = this.#byOwner.get(owner);
    if (mine && mine.size >= this.#perSubject) this.#delete(mine.values().next().value as string);
    while (
      this.#entries.size > 0 &&
      (this.#entries.size >= this.#max || this.#chars + key.length > this.#maxChars)
    ) {
      this.#delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, { value, owner });
    this.#chars += key.length;
    const keys = this.#byOwner.get(owner);
    if (keys) keys.add(key);
    else this.#byOwner.set(owner, new Set([key]));
  }

  /** {@link set}, counted against the share of `input`'s subject. */
  keep(input: PolicyInput, key: string, value: V): void {
    this.set(key, value, cacheOwner(input));
  }

  #delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    this.#chars -= key.length;
    const keys = this.#byOwner.get(entry.owner);
    keys?.delete(key);
    if (keys?.size === 0) this.#byOwner.delete(entry.owner);
  }

  /** Characters held in keys (for tests and status). */
  get chars(): number {
    return this.#chars;
  }

  get size(): number {
    return this.#entries.size;
  }
}

export interface DecisionCacheOptions {
  readonly enabled: boolean;
  readonly maxEntries: number;
}

export interface CachePlan {
  readonly on: boolean;
  readonly maxEntries: number;
  readonly unused: ReadonlySet<string>;
  /** For the `policy loaded` log line. */
  readonly state: string;
}

/** Whether (and how) a revision's results are cached, from config and {@link cacheability}. */
export function cachePlan(bundle: Bundle, opts: DecisionCacheOptions | undefined): CachePlan {
  const none = new Set<string>();
  if (!opts?.enabled) return { on: false, maxEntries: 0, unused: none, state: 'off' };
  const c = cacheability(bundle.wasm, bundle.data);
  if (!c.cacheable) return { on: false, maxEntries: 0, unused: none, state: `bypassed: ${c.why}` };
  return {
    on: true,
    maxEntries: opts.maxEntries,
    unused: c.unused,
    state: `on; key without context.${[...c.unused].sort().join(', context.')}`,
  };
}

/** Whether two decisions say the same (allow, reasons, obligations, sensitivity, required scopes). */
export function sameResult(a: Decision, b: Decision): boolean {
  return (
    a.allow === b.allow &&
    a.failure === b.failure &&
    JSON.stringify([a.reasons, a.obligations, a.sensitivity, a.requiredScopes]) ===
      JSON.stringify([b.reasons, b.obligations, b.sensitivity, b.requiredScopes])
  );
}
