/**
 * The bucket boundaries of the sidecar's histograms (`metrics.ts`), in seconds: one set for the fast
 * in-process steps, one for whole requests and the upstream.
 *
 * @module
 */

/** Seconds; 10 µs … 1 s, for the policy decision and the stages. */
export const FAST_BUCKETS = [
  0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
  0.5, 1,
];
/** Seconds; 250 µs … 30 s, for whole requests and the upstream. */
export const SLOW_BUCKETS = [
  0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
