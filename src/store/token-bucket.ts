/**
 * Token-bucket arithmetic, shared by the in-memory store and the rate limiter's local fallback, and
 * mirrored line for line by `TOKEN_BUCKET_SCRIPT` (Lua, `redis-scripts.ts`) so both stores answer alike.
 * A bucket holds up to `capacity` tokens and gains `refillPerSecond` tokens per second; a take of `cost`
 * passes when that many are there. State is (tokens, last refill ms); a full bucket needs no state.
 * A clock that goes backwards (a replica lagging behind the one that last wrote) refills nothing.
 *
 * @module
 */
import type { TokenBucketSpec, TokenTake } from './store.js';

/** Tolerance for float drift in refills (0.1 + 0.2 ≠ 0.3); far below one token. */
export const TOKEN_EPSILON = 1e-9;
/** Tolerance when rounding times up to whole ms, so 1.0000000000000009 ms is 1 ms, not 2. */
export const MS_EPSILON = 1e-6;

export interface BucketState {
  readonly tokens: number;
  /** Epoch ms of the last refill. */
  readonly ts: number;
  /** Epoch ms when the bucket is full again (state can be dropped then). */
  readonly fullAt: number;
}

/**
 * Throws `RangeError` for a spec or cost no bucket can serve (a configuration or policy bug). A cost
 * above the capacity is valid but can never pass: it is refused, with the time until that many tokens
 * would have accrued.
 */
export function checkBucket(spec: TokenBucketSpec, cost: number): void {
  const { capacity, refillPerSecond } = spec;
  if (!(Number.isFinite(capacity) && capacity > 0))
    throw new RangeError(`rate limit capacity must be a positive number, got ${capacity}`);
  if (!(Number.isFinite(refillPerSecond) && refillPerSecond > 0))
    throw new RangeError(`rate limit refillPerSecond must be a positive number, got ${refillPerSecond}`);
  if (!(Number.isFinite(cost) && cost > 0))
    throw new RangeError(`rate limit cost must be positive, got ${cost}`);
}

/**
 * One take; `next` is undefined when the bucket is full afterwards and no earlier take asked to keep it
 * longer (nothing to keep). A negative cost gives
 * that many tokens back (up to the capacity): tokens taken for a request that was refused after all.
 */
export function takeFromBucket(
  state: BucketState | undefined,
  spec: TokenBucketSpec,
  cost: number,
  nowMs: number,
): { readonly next: BucketState | undefined; readonly take: TokenTake } {
  const cap = spec.capacity;
  const rate = spec.refillPerSecond;
  const now = Math.floor(nowMs);
  // Past its expiry a state is gone, as the Redis key is: whatever it held, the bucket is full again (a
  // slower spec must not refill from a state a faster one left, only because no sweep ran yet).
  if (state !== undefined && state.fullAt <= now) state = undefined;
  let tokens: number;
  let ts: number;
  if (state === undefined) {
    tokens = cap;
    ts = now;
  } else {
    tokens = state.tokens;
    ts = state.ts;
    if (now > ts) {
      const refilled = tokens + ((now - ts) * rate) / 1000;
      if (refilled >= cap) {
        tokens = cap;
        ts = now;
      } else {
        // The time the tokens actually added stand for, not all of it: a huge bucket refilling slowly gains
        // less than a double's step at its count per call, which rounding would lose (asked every
        // millisecond, it never refilled) or round up (twice the rate); `ts` may so run ahead of `now` by
        // less than one step's time.
        ts += ((refilled - tokens) * 1000) / rate;
        tokens = refilled;
      }
    }
  }
  if (tokens > cap) tokens = cap;
  let allowed = false;
  let retryAfterMs = 0;
  if (tokens + TOKEN_EPSILON >= cost) {
    tokens -= cost;
    if (tokens < 0) tokens = 0;
    if (tokens > cap) tokens = cap; // a negative cost (tokens given back) fills up to the capacity only
    allowed = true;
  } else {
    retryAfterMs = Math.max(1, Math.ceil(((cost - tokens) * 1000) / rate - MS_EPSILON));
  }
  const resetMs =
    cap - tokens > TOKEN_EPSILON ? Math.max(1, Math.ceil(((cap - tokens) * 1000) / rate - MS_EPSILON)) : 0;
  const take: TokenTake = {
    allowed,
    remaining: Math.floor(tokens + TOKEN_EPSILON),
    retryAfterMs,
    resetMs,
  };
  // As the Lua script's expiry: state is kept at least as long as an earlier take (maybe under a slower
  // spec) asked, never dropped sooner because this spec refills faster.
  const keepUntil = Math.max(state?.fullAt ?? 0, resetMs > 0 ? now + resetMs : 0);
  return { next: keepUntil > now ? { tokens, ts, fullAt: keepUntil } : undefined, take };
}

/** Start sweeping full buckets once this many are held, then whenever the count doubles. */
const SWEEP_AT = 4_096;

/** In-process buckets by key. Buckets that have refilled completely are swept, so memory stays bounded. */
export class TokenBuckets {
  readonly #buckets = new Map<string, BucketState>();
  #sweepAt = SWEEP_AT;

  take(key: string, spec: TokenBucketSpec, cost: number, nowMs: number): TokenTake {
    const { next, take } = takeFromBucket(this.#buckets.get(key), spec, cost, nowMs);
    if (next) this.#buckets.set(key, next);
    else this.#buckets.delete(key);
    if (this.#buckets.size >= this.#sweepAt) this.#sweep(nowMs);
    return take;
  }

  get size(): number {
    return this.#buckets.size;
  }

  clear(): void {
    this.#buckets.clear();
    this.#sweepAt = SWEEP_AT;
  }

  #sweep(nowMs: number): void {
    for (const [key, b] of this.#buckets) if (b.fullAt <= nowMs) this.#buckets.delete(key);
    this.#sweepAt = Math.max(SWEEP_AT, this.#buckets.size * 2);
  }
}
