/**
 * A per-revision cache of policy results. A compiled policy is a pure function of its input and data,
 * except for two context fields that differ on every request (`context.time`, `context.request_id`)
 * and the one non-deterministic builtin the wasm runtime offers (`rand.intn`). The key is therefore the
 * whole input minus those two fields; the clock fields the policy does use (`hour`, `minute`,
 * `weekday`, `date`) stay in the key, so an entry never outlives its minute.
 *
 * Whether a bundle may be cached is decided when it is loaded ({@link cacheability}): a policy that
 * names `time` or `request_id` (a field access compiles to that exact string constant in the wasm), a
 * data document that holds either name (a lookup through data), or a policy that calls `rand.intn` is
 * evaluated on every request. What this check cannot see is a policy that reads the input generically
 * (`walk(input)`, `json.marshal(input)`, iterating over `input.context`); such a policy needs
 * `policy.decisionCache.enabled: false`.
 *
 * @module
 */
import type { PolicyInput } from './input.js';

/** Context fields left out of the key: they are new on every request. */
export const VOLATILE_CONTEXT_FIELDS = ['time', 'request_id'] as const;
/** Inputs whose key is longer than this are not cached (large arguments would crowd out the rest). */
export const MAX_KEY_CHARS = 8_192;

export type Cacheability = { readonly cacheable: true } | { readonly cacheable: false; readonly why: string };

/** Whether results of the policy in `wasm` with `data` may be cached (see the module comment). */
export function cacheability(wasm: Uint8Array, data: unknown): Cacheability {
  const text = Buffer.from(wasm.buffer, wasm.byteOffset, wasm.byteLength).toString('latin1');
  if (text.includes('rand.intn')) return { cacheable: false, why: 'the policy calls rand.intn' };
  for (const field of VOLATILE_CONTEXT_FIELDS) {
    // String constants are stored NUL-terminated; a field access is the bare name between two of them.
    if (new RegExp(`(^|[^\\x20-\\x7e])${field}($|[^\\x20-\\x7e])`).test(text))
      return { cacheable: false, why: `the policy names the field "${field}"` };
    if (dataMentions(data, field)) return { cacheable: false, why: `the policy data names "${field}"` };
  }
  return { cacheable: true };
}

function dataMentions(value: unknown, name: string): boolean {
  if (value === name) return true;
  if (Array.isArray(value)) return value.some((v) => dataMentions(v, name));
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).some(([k, v]) => k === name || dataMentions(v, name));
  return false;
}

/** JSON of subject objects, which input building reuses per principal (the token and key caches keep one). */
const subjectJson = new WeakMap<object, string>();

/** The cache key of `input`, or undefined when it is too large to cache. */
export function cacheKey(input: PolicyInput): string | undefined {
  const { time: _time, request_id: _requestId, ...stable } = input.context;
  let subject = subjectJson.get(input.subject);
  if (subject === undefined) {
    subject = JSON.stringify(input.subject);
    subjectJson.set(input.subject, subject);
  }
  const key = subject + JSON.stringify([input.action, input.resource, stable]);
  return key.length <= MAX_KEY_CHARS ? key : undefined;
}

/** A bounded map; when full, the oldest entry goes (entries of past minutes stop being asked for). */
export class DecisionCache<V> {
  readonly #max: number;
  readonly #entries = new Map<string, V>();

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get(key: string): V | undefined {
    return this.#entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, value);
  }

  get size(): number {
    return this.#entries.size;
  }
}
