/**
 * The text of an evaluation or load failure, for the log, `/readyz` and `policy eval`: opa-wasm throws
 * strings for some failures (e.g. an unknown entrypoint), the wasm runtime's conflict aborts are explained
 * the way `opa eval` would, and an entrypoint undefined for an input says how to fix it.
 *
 * @module
 */

/**
 * What the wasm runtime's conflict aborts mean: OPA's wasm compiler names them tersely, where `opa eval` and
 * `opa test` say "complete rules must not produce multiple outputs".
 */
const WASM_ERROR_HINTS: readonly (readonly [string, string])[] = [
  [
    'var assignment conflict',
    'a complete rule or function produced two different values for this input: make its bodies exclusive (else) or aggregate',
  ],
  ['object insert conflict', 'a partial object rule produced two different values for one key'],
];

/**
 * opa-wasm throws strings for some failures (an unknown entrypoint) and plain `{message}` objects for others
 * (a builtin it has no JavaScript version of); normalise to text.
 */
export function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : messageOf(err);
  const hint = WASM_ERROR_HINTS.find(([message]) => text.endsWith(message));
  return hint ? `${text} (${hint[1]})` : text;
}

/** A thrown non-Error's `message` when it is text, else its JSON. */
function messageOf(err: unknown): string {
  const message: unknown = typeof err === 'object' && err !== null ? Reflect.get(err, 'message') : undefined;
  return typeof message === 'string' ? message : String(JSON.stringify(err));
}

/**
 * An entrypoint undefined for an input (no rule matched, no default): the author's likeliest mistake, said as
 * such rather than as the schema's "expected object, received undefined".
 */
export function undefinedResult(entrypoint: string): string {
  return `${entrypoint} is undefined for this input: give it a default (default ${entrypoint.split('/').pop()} := {"allow": false})`;
}

/** Why `visible` gave no boolean: it threw, or its result (undefined, or no boolean) breaks the contract. */
export interface VisibleFailure {
  readonly kind: 'no_policy' | 'evaluation_error' | 'invalid_result';
  readonly detail: string;
}

/**
 * A `visible` result as the boolean it must be, or why it is none: undefined for the input (no default), or
 * another type (`"true"`, a set). Either hides the item, as a failure does, but says why.
 */
export function visibleResult(result: unknown, entrypoint: string): boolean | VisibleFailure {
  if (typeof result === 'boolean') return result;
  const name = entrypoint.split('/').pop();
  if (result === undefined) {
    const detail = `${entrypoint} is undefined for this input: give it a default (default ${name} := false)`;
    return { kind: 'invalid_result', detail };
  }
  const got = Array.isArray(result) ? 'an array or set' : result === null ? 'null' : `a ${typeof result}`;
  return { kind: 'invalid_result', detail: `${entrypoint} returned ${got}, not true or false` };
}

/** The `result` of the first entry of opa-wasm's result set, or undefined (no entry, not an object). */
export function firstResult(raw: unknown): unknown {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const first: unknown = raw[0];
  return typeof first === 'object' && first !== null ? (first as { result?: unknown }).result : undefined;
}
