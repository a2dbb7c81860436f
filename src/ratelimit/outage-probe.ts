/**
 * The timer behind the rate limiter's outage probes: during a store outage the limiter tries the store once
 * per interval whether or not requests come, since with failure mode `closed` its `error` state fails
 * `/readyz`, the Service then sends the pod no requests, and no request would ever find the store back.
 * Unref'd (it never keeps the process alive); once stopped, a probe still under way schedules nothing more.
 *
 * @module
 */

export class OutageProbe {
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs;
  }

  /** Runs `probe` once the interval has passed, unless a run is already due or the probe is stopped. */
  schedule(probe: () => void): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      probe();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  start(): void {
    this.#stopped = false;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
