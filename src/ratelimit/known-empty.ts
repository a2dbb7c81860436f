/**
 * The rate limiter's fast path: buckets a store call found empty, remembered until their next token is due
 * (on the limiter's local clock), so the same bucket with the same spec and the same or a larger cost is
 * refused without another store call. Nothing but time adds tokens (and a refund, which forgets the entry),
 * so the refusal is exact. Bounded: lapsed entries are swept first, then the oldest go; they only save
 * store calls, never decide anything the store would not.
 *
 * @module
 */
import type { TokenTake } from '../store/store.js';
import type { BucketSpec, TakeResult } from './types.js';

/** Most buckets remembered as empty by the fast path (lapsed ones are swept first). */
export const FAST_PATH_MAX_ENTRIES = 10_000;

interface KnownEmpty {
  /** Ms (local clock) when enough tokens for `cost` are due. */
  readonly until: number;
  readonly cost: number;
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly remaining: number;
  /** Ms (local clock) when the bucket is full again. */
  readonly fullAt: number;
}

export class KnownEmptyBuckets {
  readonly #entries = new Map<string, KnownEmpty>();

  /** The refusal of `cost` from bucket `key` at `now` when it is known to be empty, else null. */
  refusal(key: string, spec: BucketSpec, cost: number, now: number): TakeResult | null {
    const e = this.#entries.get(key);
    if (!e) return null;
    if (now >= e.until) {
      this.#entries.delete(key);
      return null;
    }
    if (cost < e.cost || e.capacity !== spec.capacity || e.refillPerSecond !== spec.refillPerSecond)
      return null;
    return {
      allowed: false,
      limit: spec.capacity,
      remaining: e.remaining,
      // A larger cost waits longer: its extra tokens come at the bucket's rate after the remembered ones.
      retryAfterMs: e.until - now + Math.ceil(((cost - e.cost) * 1000) / spec.refillPerSecond),
      resetMs: Math.max(0, e.fullAt - now),
      source: 'fast-path',
    };
  }

  /** Remembers the store's refusal of `cost` from bucket `key` at `now`. */
  remember(key: string, spec: BucketSpec, cost: number, now: number, take: TokenTake): void {
    if (this.#entries.size >= FAST_PATH_MAX_ENTRIES) {
      for (const [k, e] of this.#entries) if (e.until <= now) this.#entries.delete(k);
      // Still full of live entries: forget the oldest (they only save store calls, never decide anything).
      for (const k of this.#entries.keys()) {
        if (this.#entries.size < FAST_PATH_MAX_ENTRIES) break;
        this.#entries.delete(k);
      }
    }
    this.#entries.delete(key); // re-insert at the end (oldest-first eviction)
    this.#entries.set(key, {
      until: now + take.retryAfterMs,
      cost,
      capacity: spec.capacity,
      refillPerSecond: spec.refillPerSecond,
      remaining: take.remaining,
      fullAt: now + take.resetMs,
    });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}
