/**
 * Checks that a scrubber takes linear time on hostile text without a wall-clock bound: the time on the
 * hostile text is compared with the time on benign text of the same size, measured in the same test, so a
 * slow or busy machine slows both. A linear scan takes a few times the benign text's time on any input; one
 * that backtracks or rescans takes hundreds to thousands of times it (seconds to minutes on 1 MiB).
 *
 * @module
 */
import { expect } from 'vitest';

/** Text that passes every cheap test of the scrubbers (`@`, `:`, `=`, `?`, `ey`, `sk-`, `Bearer`, …) and holds no secret. */
export const BENIGN_UNIT =
  'GET /v1/items?page=2&q=tokens by alice@example.com at 10:30, see https://h.example:8443/a/b#top. ' +
  'The bearer of this letter, Basic plan; sk-learn ey.x -----BEGIN CERTIFICATE----- ghp_x AKIA x kty=1 ';

/** `unit` repeated to `length` characters. */
export function fill(unit: string, length: number): string {
  return unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
}

/**
 * How many times the benign text's time the hostile text may take. The linear scanners take 0.1 to 5 times
 * it; the quadratic ones these tests were written against, 30 to 10,000 times.
 */
export const MAX_SLOWDOWN = 15;
/** The benign time is counted as at least this: a scan that takes no time is no unit of measure. */
const MIN_BENIGN_MS = 10;

function timed(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

/**
 * Expects `hostile()` to take less than {@link MAX_SLOWDOWN} (or `maxSlowdown`) times `benign()`, timed before
 * and after `hostile()`, its longer time kept. A hostile time over the bound is measured once more, unless far
 * over it: a broken scan would take minutes again. A cold first benign run only raises the bound a little.
 */
export function expectCostLike(
  hostile: () => unknown,
  benign: () => unknown,
  opts: { maxSlowdown?: number; label?: string } = {},
): void {
  const before = timed(benign);
  let hostileMs = timed(hostile);
  const benignMs = Math.max(before, timed(benign), MIN_BENIGN_MS);
  const bound = (opts.maxSlowdown ?? MAX_SLOWDOWN) * benignMs;
  if (hostileMs >= bound && hostileMs < 4 * bound) hostileMs = Math.min(hostileMs, timed(hostile));
  expect(
    hostileMs,
    `${opts.label ?? 'hostile'}: ${hostileMs.toFixed(0)} ms, benign ${benignMs.toFixed(0)} ms`,
  ).toBeLessThan(bound);
}

/**
 * Expects `run(hostile)` to cost like `run(benign)` ({@link expectCostLike}), the benign text by default
 * {@link BENIGN_UNIT} repeated to the hostile text's length. The heads of both are run first, so no timed run
 * is the one that compiles the regexes and optimises the code.
 */
export function expectLinearTime(
  run: (text: string) => unknown,
  hostile: string,
  opts: { benign?: string; maxSlowdown?: number; label?: string } = {},
): void {
  const benign = opts.benign ?? fill(BENIGN_UNIT, hostile.length);
  run(benign.slice(0, 4_096));
  run(hostile.slice(0, 4_096));
  expectCostLike(
    () => run(hostile),
    () => run(benign),
    opts,
  );
}
