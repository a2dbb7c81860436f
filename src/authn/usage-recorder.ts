/**
 * API key usage (count, last used) batched in memory and written to the store every few seconds and on
 * stop(). `record()` is synchronous and never touches the store, so the request path does not wait on
 * it; a failed flush keeps the counts for the next one and is logged once per outage.
 *
 * @module
 */
import type { Store } from '../store/store.js';
import type { Logger } from '../telemetry/logger.js';

export const USAGE_FLUSH_INTERVAL_MS = 5_000;

interface Pending {
  count: number;
  lastUsedAt: string;
}

export class UsageRecorder {
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #intervalMs: number;
  #pending = new Map<string, Pending>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failing = false;

  constructor(store: Store, logger: Logger, intervalMs = USAGE_FLUSH_INTERVAL_MS) {
    this.#store = store;
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.flush(), this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  /** Counts `count` uses of key `id`, the latest at `at` (ISO 8601). */
  record(id: string, at: string, count = 1): void {
    const p = this.#pending.get(id);
    if (p) {
      p.count += count;
      if (at > p.lastUsedAt) p.lastUsedAt = at;
    } else {
      this.#pending.set(id, { count, lastUsedAt: at });
    }
  }

  /** Writes the pending counts; concurrent calls share one flush. Never throws. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flushOnce().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const results = await Promise.allSettled(
      [...batch].map(([id, p]) => this.#store.recordApiKeyUsage(id, p.count, p.lastUsedAt)),
    );
    let failed = 0;
    let firstError: unknown;
    [...batch].forEach(([id, p], i) => {
      const r = results[i];
      if (r?.status !== 'rejected') return;
      failed++;
      firstError ??= r.reason;
      this.record(id, p.lastUsedAt, p.count);
    });
    if (failed && !this.#failing) {
      this.#logger.warn(
        { err: (firstError as Error).message, keys: failed },
        'API key usage not recorded; will retry',
      );
    } else if (!failed && this.#failing) {
      this.#logger.info('API key usage recording resumed');
    }
    this.#failing = failed > 0;
  }
}
