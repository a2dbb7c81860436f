/**
 * Test helper: waiting for something that happens asynchronously elsewhere (another process, Redis, a
 * poll loop in the sidecar), with a deadline instead of a fixed sleep.
 *
 * @module
 */

/**
 * Calls `check` every `intervalMs` (default 20) until it returns true and resolves to the time that took;
 * rejects with "condition not met within `ms` ms" when it never does.
 */
export async function until(ms: number, check: () => Promise<boolean>, intervalMs = 20): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await check()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${ms} ms`);
}
