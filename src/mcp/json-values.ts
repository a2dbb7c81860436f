/**
 * Counting the JSON values of a call's arguments, up to a bound: what the wasm policy's memory grows by is
 * the number of values it is given, not their bytes (about 200 bytes each, kept at the high-water mark).
 *
 * @module
 */

/**
 * Whether `value` holds more than `limit` JSON values, counting every array element, object member and
 * container; stops counting once past the limit, so a huge value costs no more than `limit` steps.
 */
export function holdsMoreValues(value: unknown, limit: number): boolean {
  let left = limit;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (--left < 0) return true;
    if (typeof v !== 'object' || v === null) continue;
    // Every value waiting counts at least one: more waiting than are left is over the limit already.
    if (Array.isArray(v)) {
      for (const item of v) {
        if (stack.length >= left) return true;
        stack.push(item);
      }
    } else {
      for (const k in v) {
        if (stack.length >= left) return true;
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return false;
}
