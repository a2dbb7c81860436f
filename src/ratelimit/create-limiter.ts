/**
 * The rate limiter: token buckets in the store (one atomic script on Redis, one round trip per `take`),
 * with two local shortcuts that cost no store call:
 *
 * - Fast path: a refusal tells us when the next token is due; until then the same bucket (same spec,
 *   same or larger cost) is refused locally. Nothing but time adds tokens, so this is exact.
 * - Outage: the first failed store call starts an outage (logged once, counted) and the failure mode
 *   takes over: `local` in-process buckets, `open` allow, `closed` throw `RateLimitBackendError`. Once
 *   per `PROBE_INTERVAL_MS` one request tries the store again (the others do not wait for it), and so does
 *   a timer when no request does (with `closed` the pod is unready, so no request comes); the first
 *   success ends the outage (logged once).
 *
 * Calls never hang: the store bounds each command by its own timeout, and fails at once while disconnected.
 *
 * Two clocks: the store's buckets use `now` (wall time; the Redis store moves it onto Redis's clock), while
 * everything kept in this process (the fast path, the fallback buckets, outage probes) uses `localNow`, a
 * monotonic clock. A wall clock stepped back (an NTP correction, a VM restored) would otherwise stall them:
 * a bucket remembered as empty until 12:00:05 would be refused for an hour after a step back to 11:00.
 * With the memory store the sidecar passes the monotonic clock as `now` too.
 *
 * @module
 */
import type { ComponentStatus } from '../lifecycle.js';
import type { Store, TokenTake } from '../store/store.js';
import { checkBucket, TokenBuckets } from '../store/token-bucket.js';
import type { Logger } from '../telemetry/logger.js';
import { KnownEmptyBuckets } from './known-empty.js';
import { OutageProbe } from './outage-probe.js';
import {
  type BucketSpec,
  RateLimitBackendError,
  type RateLimiter,
  type RateLimiterStats,
  type RateLimitFailureMode,
  type TakeResult,
} from './types.js';

/** During an outage, one request per this interval tries the store again. */
export const PROBE_INTERVAL_MS = 1_000;

export interface RateLimiterOptions {
  readonly store: Store;
  readonly failureMode: RateLimitFailureMode;
  readonly logger: Logger;
  /** Epoch ms for the store's buckets (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Ms on a clock that never steps back, for in-process state: default `now` when that is given (a test's
   * pinned clock), else {@link monotonicNow}.
   */
  readonly localNow?: () => number;
  /** Refuse buckets known to be empty without a store call (default true). */
  readonly fastPath?: boolean;
}

interface Outage {
  /** Wall-clock epoch ms when it began (shown in the status). */
  readonly began: number;
  /** The same moment on the local clock (for the duration). */
  readonly since: number;
  readonly reason: string;
  nextProbeAt: number;
}

function ignore(): void {}

/** Epoch ms that only move forwards: the process's start time plus the monotonic time since. */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

export { FAST_PATH_MAX_ENTRIES } from './known-empty.js';

/** The bucket the outage timer probes (a write, as a take is: READONLY or OOM fail it too); no bucket key's shape. */
const PROBE_KEY = '(probe)';
const PROBE_SPEC: BucketSpec = { capacity: 1, refillPerSecond: 1 };

/** A take as the limiter answers it: one object literal (a spread of `take` costs a runtime clone per request). */
function result(take: TokenTake, spec: BucketSpec, source: TakeResult['source']): TakeResult {
  return {
    allowed: take.allowed,
    limit: spec.capacity,
    remaining: take.remaining,
    retryAfterMs: take.retryAfterMs,
    resetMs: take.resetMs,
    source,
  };
}

export function createRateLimiter(opts: RateLimiterOptions): RateLimiter {
  return new StoreRateLimiter(opts);
}

class StoreRateLimiter implements RateLimiter {
  readonly name = 'ratelimit';
  readonly #store: Store;
  readonly #mode: RateLimitFailureMode;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #localNow: () => number;
  readonly #fastPath: boolean;
  readonly #empty = new KnownEmptyBuckets();
  readonly #local = new TokenBuckets();
  #outage: Outage | null = null;
  readonly #probe = new OutageProbe(PROBE_INTERVAL_MS);
  #outages = 0;
  #storeErrors = 0;
  #fastPathRefusals = 0;
  #degradedTakes = 0;

  constructor(o: RateLimiterOptions) {
    this.#store = o.store;
    this.#mode = o.failureMode;
    this.#logger = o.logger;
    this.#now = o.now ?? Date.now;
    this.#localNow = o.localNow ?? o.now ?? monotonicNow;
    this.#fastPath = o.fastPath ?? true;
  }

  async start(): Promise<void> {
    this.#probe.start();
  }

  async stop(): Promise<void> {
    this.#probe.stop();
    this.#empty.clear();
    this.#local.clear();
  }

  status(): ComponentStatus {
    const o = this.#outage;
    if (!o) return { state: 'ok', detail: `${this.#store.kind} buckets`, failureMode: this.#mode };
    const action = {
      local: 'using in-process buckets',
      open: 'allowing every request (fail open)',
      closed: 'refusing every request (fail closed)',
    }[this.#mode];
    return {
      state: this.#mode === 'closed' ? 'error' : 'warn',
      detail: `rate limit store unavailable since ${new Date(o.began).toISOString()}; ${action}`,
      failureMode: this.#mode,
    };
  }

  outages(): number {
    return this.#outages;
  }

  storeErrors(): number {
    return this.#storeErrors;
  }

  stats(): RateLimiterStats {
    return {
      outages: this.#outages,
      storeErrors: this.#storeErrors,
      fastPathRefusals: this.#fastPathRefusals,
      degradedTakes: this.#degradedTakes,
    };
  }

  takeNow(key: string, spec: BucketSpec, cost = 1): TakeResult | undefined {
    checkBucket(spec, cost);
    const local = this.#localNow();
    const answered = this.#withoutStore(key, spec, cost, local);
    if (answered) return answered;
    if (this.#outage || !this.#store.takeTokenNow) return undefined;
    let take: TokenTake;
    try {
      take = this.#store.takeTokenNow(key, spec, cost, this.#now());
    } catch (err) {
      this.#failed(err, local);
      return this.#degraded(key, spec, cost, local, err);
    }
    return this.#answer(key, spec, cost, local, take);
  }

  async take(key: string, spec: BucketSpec, cost = 1): Promise<TakeResult> {
    checkBucket(spec, cost);
    const local = this.#localNow();
    const answered = this.#withoutStore(key, spec, cost, local);
    if (answered) return answered;
    const outage = this.#outage;
    if (outage) outage.nextProbeAt = local + PROBE_INTERVAL_MS; // this request probes; the others keep going locally
    let take: TokenTake;
    try {
      take = await this.#store.takeToken(key, spec, cost, this.#now());
    } catch (err) {
      this.#failed(err, local);
      return this.#degraded(key, spec, cost, local, err);
    }
    // Only a call made during the outage ends it: a slow call begun before it says nothing about now.
    if (outage && this.#outage === outage) this.#recovered(local);
    return this.#answer(key, spec, cost, local, take);
  }

  giveBack(key: string, spec: BucketSpec, cost: number, taken: TakeResult): number | undefined {
    if (!taken.allowed || !(cost > 0)) return undefined;
    // A request refused meanwhile may have remembered the bucket as empty: it no longer is.
    this.#empty.delete(key);
    if (taken.source === 'local-fallback')
      return this.#local.take(key, spec, -cost, this.#localNow()).remaining;
    // Fast-path refusals and fail-open passes took nothing.
    if (taken.source !== this.#store.kind) return undefined;
    const now = this.#now();
    try {
      if (this.#store.takeTokenNow) return this.#store.takeTokenNow(key, spec, -cost, now).remaining;
      this.#store.takeToken(key, spec, -cost, now).catch(ignore);
    } catch {
      // Lost refund: the caller is charged for calls that did not run, nothing worse.
      return undefined;
    }
    // Not waited for: what the take left, and what went back (a refill since, or other takes, not counted).
    return Math.min(Math.floor(spec.capacity), taken.remaining + cost);
  }

  /** The store's answer as a TakeResult; a refusal is remembered for the fast path (`local` time). */
  #answer(key: string, spec: BucketSpec, cost: number, local: number, take: TokenTake): TakeResult {
    if (!take.allowed && this.#fastPath) this.#empty.remember(key, spec, cost, local, take);
    return result(take, spec, this.#store.kind);
  }

  /** Answered without the store: a bucket known to be empty, or an outage between probes. */
  #withoutStore(key: string, spec: BucketSpec, cost: number, now: number): TakeResult | null {
    if (this.#fastPath) {
      const refused = this.#empty.refusal(key, spec, cost, now);
      if (refused) {
        this.#fastPathRefusals++;
        return refused;
      }
    }
    const outage = this.#outage;
    if (outage && now < outage.nextProbeAt) return this.#degraded(key, spec, cost, now, undefined);
    return null;
  }

  #degraded(key: string, spec: BucketSpec, cost: number, now: number, cause: unknown): TakeResult {
    this.#degradedTakes++;
    switch (this.#mode) {
      case 'local':
        return result(this.#local.take(key, spec, cost, now), spec, 'local-fallback');
      case 'open':
        return {
          allowed: true,
          limit: spec.capacity,
          remaining: Math.floor(spec.capacity),
          retryAfterMs: 0,
          resetMs: 0,
          source: 'fail-open',
        };
      case 'closed':
        throw new RateLimitBackendError(
          'rate limit store unavailable',
          cause === undefined ? { cause: this.#outage?.reason } : { cause },
        );
    }
  }

  #failed(err: unknown, now: number): void {
    this.#storeErrors++;
    if (this.#outage) return;
    const reason = err instanceof Error ? err.message : String(err);
    this.#outage = { began: this.#now(), since: now, reason, nextProbeAt: now + PROBE_INTERVAL_MS };
    this.#outages++;
    this.#scheduleProbe();
    this.#logger.warn(
      { err: reason, failureMode: this.#mode },
      `rate limit store unavailable; ${
        { local: 'using in-process buckets', open: 'failing open', closed: 'failing closed' }[this.#mode]
      }`,
    );
  }

  /** Tries the store once per interval while the outage lasts, whether or not requests do (`outage-probe.ts`). */
  #scheduleProbe(): void {
    this.#probe.schedule(() => {
      const outage = this.#outage;
      const local = this.#localNow();
      if (!outage) return;
      this.#store.takeToken(PROBE_KEY, PROBE_SPEC, 1, this.#now()).then(
        () => this.#outage === outage && this.#recovered(local),
        (err: unknown) => {
          this.#failed(err, local);
          this.#scheduleProbe();
        },
      );
    });
  }

  #recovered(now: number): void {
    const o = this.#outage;
    if (!o) return;
    this.#outage = null;
    // The in-process buckets are kept (full ones are swept): cleared, every outage of a flapping store would
    // start with full buckets, a fresh burst per replica each time.
    this.#logger.info({ downMs: now - o.since }, 'rate limit store available again');
  }
}
