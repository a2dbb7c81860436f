/**
 * The verified-token cache: sha256 of the token → the Principal it verified to, kept until an expiry the
 * verifier computes (never past the token's `exp`), held to on the wall clock and, as a lifetime, on the
 * monotonic one. Bounded: when full, the oldest entry (Map insertion order) goes. A hit costs a hash and a
 * Map lookup (~1 µs); revocation is still checked by the caller.
 *
 * @module
 */
import * as crypto from 'node:crypto';
import type { Principal } from './principal.js';

interface Entry {
  readonly principal: Principal;
  /** Epoch ms after which the entry must not be used. */
  readonly until: number;
  /**
   * The same lifetime on the monotonic clock: a wall clock stepped back (NTP, a VM restored) must not
   * stretch it, nor a revocation at the authorization server wait that much longer.
   */
  readonly monoUntil: number;
}

/** Milliseconds on a clock that never steps (`performance.now()`). */
export type MonotonicClock = () => number;

const hashFn: ((algorithm: string, data: string, encoding: 'base64url') => string) | undefined = (
  crypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }
).hash;

/** The cache key of a token: its sha256, base64url (never the token itself). */
export function tokenKey(token: string): string {
  return hashFn
    ? hashFn('sha256', token, 'base64url')
    : crypto.createHash('sha256').update(token).digest('base64url');
}

export class TokenCache {
  readonly #max: number;
  readonly #entries = new Map<string, Entry>();
  readonly #mono: MonotonicClock;

  /** `maxEntries` 0 disables the cache. */
  constructor(maxEntries: number, monotonic: MonotonicClock = () => performance.now()) {
    this.#max = maxEntries;
    this.#mono = monotonic;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string, nowMs: number): Principal | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (nowMs >= e.until || this.#mono() >= e.monoUntil) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.principal;
  }

  /** Stores until `untilMs`; ignored if that is not in the future. */
  set(key: string, principal: Principal, untilMs: number, nowMs: number): void {
    if (this.#max === 0 || untilMs <= nowMs) return;
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { principal, until: untilMs, monoUntil: this.#mono() + (untilMs - nowMs) });
  }

  clear(): void {
    this.#entries.clear();
  }
}
