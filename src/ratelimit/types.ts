/**
 * The rate limiter's public types: a bucket spec, the answer to one `take`, the failure modes and the
 * error `take` throws in failure mode `closed` while the store is unusable.
 *
 * @module
 */
import type { Component } from '../lifecycle.js';

/** A token bucket: up to `capacity` tokens, refilled continuously at `refillPerSecond`. */
/** The reason a request refused because its bucket is empty gets in the audit record. */
export const RATE_LIMITED_REASON = 'rate limit exceeded';

export interface BucketSpec {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

export interface TakeResult {
  readonly allowed: boolean;
  /** The bucket's capacity. */
  readonly limit: number;
  /** Whole tokens left. */
  readonly remaining: number;
  /** 0 when allowed; else ms until enough tokens are due. */
  readonly retryAfterMs: number;
  /** ms until the bucket is full again. */
  readonly resetMs: number;
  /**
   * Who answered: the shared store (`redis`) or the in-process one (`memory`); `fast-path` = refused
   * locally because the bucket is known to be empty; `local-fallback` = in-process bucket while the store
   * is down (failure mode `local`); `fail-open` = allowed unchecked while the store is down (mode `open`).
   */
  readonly source: 'redis' | 'memory' | 'fast-path' | 'local-fallback' | 'fail-open';
}

/**
 * What `take` does while the store fails: `local` (default) uses in-process buckets with the same spec
 * (each replica then enforces the budget on its own, so N replicas allow up to N× the budget);
 * `open` allows everything (Warning: no rate limiting during an outage); `closed` throws
 * `RateLimitBackendError` (every request refused during an outage).
 */
export type RateLimitFailureMode = 'local' | 'open' | 'closed';

/** Counters to feed metrics; monotonic over the limiter's life. */
export interface RateLimiterStats {
  /** Outages begun (a store failure after a period of success). */
  readonly outages: number;
  /** Failed store calls (the first of an outage and every failed probe). */
  readonly storeErrors: number;
  /** Takes refused by the local fast path, without a store call. */
  readonly fastPathRefusals: number;
  /** Takes answered without the store during an outage (local buckets, fail-open or closed refusals). */
  readonly degradedTakes: number;
}

export interface RateLimiter extends Component {
  /** Takes `cost` (default 1) tokens from bucket `key`; at most one store round trip. */
  take(key: string, spec: BucketSpec, cost?: number): Promise<TakeResult>;
  /**
   * `take` when it needs no store round trip (an in-process store, a bucket known to be empty, an outage
   * between probes), answered in the same tick; undefined when only `take` can answer. Throws like `take`.
   */
  takeNow(key: string, spec: BucketSpec, cost?: number): TakeResult | undefined;
  /**
   * Gives back `cost` tokens that `taken` took from bucket `key`, for a request refused after all (another
   * bucket of its batch was empty). Best effort and never waits: a store failure only loses the refund.
   * Returns the whole tokens the bucket holds then: the in-process buckets' own count; with Redis, whose
   * answer is not waited for, what the take left plus `cost` (up to the capacity). Undefined when nothing
   * was given back (nothing was taken, or the refund failed at once).
   */
  giveBack(key: string, spec: BucketSpec, cost: number, taken: TakeResult): number | undefined;
  outages(): number;
  storeErrors(): number;
  stats(): RateLimiterStats;
}

/** Thrown by `take` only in failure mode `closed` while the store is unusable (→ ERR_RATELIMIT_BACKEND). */
export class RateLimitBackendError extends Error {
  constructor(message = 'rate limit store unavailable', options?: { readonly cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}
