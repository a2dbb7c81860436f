/**
 * Counts the OTLP log records (the audit trail's OTLP copy) that never reach the collector. The SDK's batch
 * processor drops a record when its queue is full, and loses a batch whose export failed; it says so only
 * on its self-observability counter `otel.sdk.processor.log.processed` (semantic conventions), with an
 * `error.type`. The processor is given a meter provider that passes everything on to the real one and
 * reports each such count, so the audit-drop counter covers both copies of a record.
 *
 * @module
 */
import type { Attributes, Counter, Meter, MeterProvider } from '@opentelemetry/api';

/** The semantic-convention counter the SDK's log processors report their outcome on. */
export const LOG_PROCESSED_METRIC = 'otel.sdk.processor.log.processed';
const ERROR_TYPE = 'error.type';

/** `real`, with every `error.type` count on {@link LOG_PROCESSED_METRIC} also given to `lost()`. */
export function countingLogLosses(real: MeterProvider, lost: (records: number) => void): MeterProvider {
  const wrapCounter = (counter: Counter): Counter => ({
    add(value: number, attributes?: Attributes, ...rest: unknown[]) {
      if (attributes?.[ERROR_TYPE] !== undefined && value > 0) lost(value);
      (counter.add as (...a: unknown[]) => void)(value, attributes, ...rest);
    },
  });
  return {
    getMeter(name, version, options): Meter {
      const meter = real.getMeter(name, version, options);
      return new Proxy(meter, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver) as unknown;
          if (prop === 'createCounter') {
            return (metric: string, opts?: Parameters<Meter['createCounter']>[1]) => {
              const counter = target.createCounter(metric, opts);
              return metric === LOG_PROCESSED_METRIC ? wrapCounter(counter) : counter;
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
}
