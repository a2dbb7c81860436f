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

/** Rejects when `p` has not settled within `ms` (a failure guard, never a synchronisation). */
export async function settlesWithin<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, guard]);
  } finally {
    clearTimeout(timer);
  }
}
