/**
 * A counter summed in the process and reported through an OpenTelemetry `ObservableCounter` when a
 * reader collects. The SDK's synchronous counter hashes the attributes of every `add` once per reader
 * (Prometheus and OTLP); the per-request counters use this instead, so an increment is one Map lookup.
 *
 * @module
 */
import type { Attributes, Meter, MetricOptions, ObservableCounter } from '@opentelemetry/api';

export class TalliedCounter {
  readonly #labels: readonly string[];
  readonly #series = new Map<string, { readonly attributes: Attributes; value: number }>();
  /** Kept so the callback stays registered for the meter's lifetime. */
  readonly instrument: ObservableCounter;

  constructor(meter: Meter, name: string, options: MetricOptions, labels: readonly string[]) {
    this.#labels = labels;
    this.instrument = meter.createObservableCounter(name, options);
    this.instrument.addCallback((result) => {
      for (const s of this.#series.values()) result.observe(s.value, s.attributes);
    });
  }

  /** Adds `n` to the series with these label values, given in the order of the constructor's labels. */
  add(n: number, ...values: string[]): void {
    const key = values.join('\u0000');
    const s = this.#series.get(key);
    if (s) {
      s.value += n;
      return;
    }
    const attributes: Attributes = {};
    this.#labels.forEach((label, i) => {
      attributes[label] = values[i] ?? '';
    });
    this.#series.set(key, { attributes, value: n });
  }
}
