/**
 * The budget one call's arguments spend on their way into an audit record (`mask.ts`): values, and the JSON
 * bytes of keys, kept strings and structure. Walks over arrays and objects stop, with a marker, once it is
 * spent; what it spent is the record's size estimate (the audit queue's byte bound).
 *
 * @module
 */

export const TRUNCATED = '[truncated]';
/**
 * At most this many values (leaves) of one call's arguments are masked or kept, and at most
 * {@link MAX_ARGUMENT_TEXT} bytes of keys, kept strings and structure (as JSON): the rest of an array or object is cut,
 * with a `[truncated: …]` marker. Each hashed value costs an HMAC on the request path, and a record is a log
 * line: without a budget a 600 kB array of zeros took 4 s of HMACs and became a 9 MB line.
 */
export const MAX_ARGUMENT_LEAVES = 256;
export const MAX_ARGUMENT_TEXT = 8_192;

export interface Budget {
  /** Leaves left (0 once anything did not fit: the rest is cut). */
  leaves: number;
  text: number;
  /** Leaves taken. */
  used: number;
}

export const newBudget = (): Budget => ({ leaves: MAX_ARGUMENT_LEAVES, text: MAX_ARGUMENT_TEXT, used: 0 });

/**
 * What the calls of one HTTP request spend together: a batch of 100 calls would otherwise take 100 times a
 * call's budget (25,600 HMACs, about 100 ms of the event loop, and 100 records of 8 KiB of arguments from a
 * 60 KB body). Each call takes at most its own budget, and what the request has left.
 */
export const MAX_REQUEST_ARGUMENT_LEAVES = 1_024;
export const MAX_REQUEST_ARGUMENT_TEXT = 32_768;

export interface RequestBudget {
  leaves: number;
  text: number;
}

export const newRequestBudget = (): RequestBudget => ({
  leaves: MAX_REQUEST_ARGUMENT_LEAVES,
  text: MAX_REQUEST_ARGUMENT_TEXT,
});

/** A call's budget: its own bound, within what its request has left (the whole bound without one). */
export function callBudget(request?: RequestBudget): Budget {
  if (!request) return newBudget();
  return {
    leaves: Math.max(0, Math.min(MAX_ARGUMENT_LEAVES, request.leaves)),
    text: Math.max(0, Math.min(MAX_ARGUMENT_TEXT, request.text)),
    used: 0,
  };
}

/** Takes one leaf and `chars` bytes of text from the budget; false when it is spent. */
export function spend(b: Budget, chars: number): boolean {
  if (b.leaves <= 0 || b.text < chars) {
    b.leaves = 0;
    return false;
  }
  b.leaves--;
  b.used++;
  b.text -= chars;
  return true;
}

/** Text charged per array element (its comma, and `[]` when it is one) and per object entry (quotes, colon). */
const ITEM_CHARS = 3;
const ENTRY_CHARS = 4;

/**
 * The bytes `s` takes as a JSON string's content: UTF-8, escapes included (a control character is six), so
 * the budget, and the size estimate built from it, bound the line actually written.
 */
export function jsonBytes(s: string): number {
  return /[\p{Cc}"\\]/u.test(s) ? Buffer.byteLength(JSON.stringify(s)) - 2 : Buffer.byteLength(s);
}

/** The element that ends an array cut for the budget. */
const cutItems = (rest: number): string => `${TRUNCATED.slice(0, -1)}: ${rest} more items]`;
/** The key and value that end an object cut for the budget. */
const CUT_KEY = TRUNCATED;
const cutKeys = (rest: number): string => `${rest} more keys`;

/**
 * `out[k] = v` as an own data property even for `__proto__` (JSON.parse makes it an ordinary key, which a
 * plain assignment would turn into the object's prototype, leaving it out of the record).
 */
export function put(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__')
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

/**
 * The elements of an array through `f`, cut (with a marker) once the budget is spent; the budget is
 * checked before each element, so a cut array ends in exactly one marker.
 */
export function eachItem(
  value: readonly unknown[],
  b: Budget,
  f: (el: unknown, i: number) => unknown,
): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < value.length; i++) {
    // Each element costs its separator from the text budget: empty arrays and objects are not free.
    if (b.leaves <= 0 || b.text < ITEM_CHARS) {
      b.leaves = 0;
      out.push(cutItems(value.length - i));
      break;
    }
    b.text -= ITEM_CHARS;
    out.push(f(value[i], i));
  }
  return out;
}

/** The entries of an object through `f` (which returns false to leave a key out), cut like {@link eachItem}. */
export function eachKey(
  value: Record<string, unknown>,
  b: Budget,
  f: (k: string, v: unknown, out: Record<string, unknown>) => void,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const cost = jsonBytes(k) + ENTRY_CHARS;
    if (b.leaves <= 0 || b.text < cost) {
      b.leaves = 0;
      out[CUT_KEY] = cutKeys(keys.length - i);
      break;
    }
    b.text -= cost;
    f(k, value[k], out);
  }
  return out;
}
