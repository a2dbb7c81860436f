/**
 * This replica's clock offset to Redis's, so that the bucket and window scripts of every replica run on one
 * clock, Redis's `TIME`: with each replica's own clock, one running 60 s ahead found every bucket it touched
 * full again (capacity 10 at 1/s, drained alternately with another replica: 60 calls in 30 s) and dropped
 * the others' window counts as old. Measured when a connection becomes ready (it may be another master
 * after a failover) and every {@link CLOCK_CHECK_INTERVAL_MS}, off the request path; a request only adds
 * the offset to its time. The offset is kept while a measurement agrees with it within its round trip, so it
 * does not jitter by a millisecond from one check to the next; a check that fails keeps it.
 *
 * @module
 */
import { ReplyError } from 'ioredis';
import type { Logger } from '../telemetry/logger.js';
import type { RedisClient } from './redis-security.js';

export const CLOCK_CHECK_INTERVAL_MS = 30_000;
/** An offset this large, or a change of it this large, is logged (replicas' clocks should follow NTP). */
const LOGGED_OFFSET_MS = 1_000;

/** TIME from the node that holds KEYS[1] (on a Cluster, the master of the `{authz}` slot: the scripts' node). */
const TIME_SCRIPT = "return redis.call('TIME')";

/** Refusals that pass with a failover or a restart (the store's own calls meet them too), not a setting. */
const PASSING_REFUSAL = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)/;

type TimeClient = Pick<RedisClient, 'status' | 'eval'>;

export class RedisClock {
  readonly #now: () => number;
  readonly #key: string;
  readonly #logger: Logger;
  #offsetMs = 0;
  #logged = 0;
  #refusalLogged = false;
  #measuring: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  /** `now`: this replica's clock (epoch ms); `key`: any key of the store's slot. */
  constructor(now: () => number, key: string, logger: Logger) {
    this.#now = now;
    this.#key = key;
    this.#logger = logger;
  }

  /** Ms to add to a time of this replica's clock to get Redis's (0 until measured). */
  get offsetMs(): number {
    return this.#offsetMs;
  }

  /**
   * Measures on the client `client()` returns, now (resolving once measured) and every
   * {@link CLOCK_CHECK_INTERVAL_MS} while it is ready, until {@link stop}.
   */
  start(client: () => TimeClient | undefined): Promise<void> {
    this.stop();
    const check = (): Promise<void> => {
      const c = client();
      return c?.status === 'ready' ? this.measure(c) : Promise.resolve();
    };
    this.#timer = setInterval(() => void check(), CLOCK_CHECK_INTERVAL_MS);
    this.#timer.unref();
    return check();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One measurement (joined by calls made meanwhile); never rejects. */
  measure(client: TimeClient): Promise<void> {
    this.#measuring ??= this.#measure(client).finally(() => {
      this.#measuring = undefined;
    });
    return this.#measuring;
  }

  async #measure(client: TimeClient): Promise<void> {
    let sent: number;
    let answered: number;
    let redisMs: number;
    try {
      sent = this.#now();
      const [sec, usec] = (await client.eval(TIME_SCRIPT, 1, this.#key)) as [string, string];
      answered = this.#now();
      redisMs = Number(sec) * 1000 + Number(usec) / 1000;
    } catch (err) {
      // The offset measured last still holds. A timeout or a lost connection is an outage, which the store
      // logs; Redis refusing the check (an ACL user without TIME: NOPERM) would leave buckets on this
      // replica's clock unseen, on every check: said once, until a measurement succeeds.
      const refusal: string = err instanceof ReplyError ? (err as Error).message : '';
      if (refusal && !PASSING_REFUSAL.test(refusal) && !this.#refusalLogged) {
        this.#refusalLogged = true;
        this.#logger.warn(
          { err: refusal },
          'clock offset to Redis not measured (Redis refused TIME); buckets and abuse windows keep the last one, if any',
        );
      }
      return;
    }
    this.#refusalLogged = false;
    if (!Number.isFinite(redisMs)) return;
    // Redis read its clock between `sent` and `answered` (each up to 1 ms short, whole ms).
    if (this.#offsetMs >= redisMs - answered - 1 && this.#offsetMs <= redisMs - sent + 1) return;
    this.#offsetMs = Math.round(redisMs - (sent + answered) / 2);
    if (Math.abs(this.#offsetMs - this.#logged) < LOGGED_OFFSET_MS) return;
    this.#logged = this.#offsetMs;
    this.#logger.warn(
      { offsetMs: this.#offsetMs },
      "clock offset to Redis changed; rate-limit buckets and abuse windows run on Redis's clock",
    );
  }
}
