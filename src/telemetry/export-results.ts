/**
 * What the OTLP exports answered, per signal: each exporter is wrapped so every result is seen; a failure is
 * logged once per window (not once per batch) and keeps telemetry's `status()` at `warn` while recent.
 *
 * @module
 */
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { Logger } from './logger.js';
import type { Signal } from './otel-config.js';

/** An export error this recent makes `status()` `warn`. */
export const EXPORT_ERROR_WINDOW_MS = 60_000;

type Exporting = { export(items: never, cb: (r: ExportResult) => void): void };

interface LastError {
  readonly at: number;
  readonly message: string;
  readonly count: number;
}

export class ExportResults {
  readonly #log: Logger;
  readonly #last: Partial<Record<Signal, LastError>> = {};

  constructor(log: Logger) {
    this.#log = log;
  }

  /** `exporter` with its `export` wrapped so each result of signal `s` is seen. */
  observed<E extends Exporting>(exporter: E, s: Signal): E {
    const inner = exporter.export.bind(exporter) as (items: unknown, cb: (r: ExportResult) => void) => void;
    const wrapped = (items: unknown, cb: (r: ExportResult) => void) =>
      inner(items, (r) => {
        this.#seen(s, r);
        cb(r);
      });
    Object.defineProperty(exporter, 'export', { value: wrapped, writable: true, configurable: true });
    return exporter;
  }

  /** The failures of the last {@link EXPORT_ERROR_WINDOW_MS}, one phrase per signal; null when none. */
  recentFailures(now = Date.now()): string | null {
    const recent = (Object.entries(this.#last) as [Signal, LastError][]).filter(
      ([, e]) => now - e.at <= EXPORT_ERROR_WINDOW_MS,
    );
    if (recent.length === 0) return null;
    return recent
      .map(([s, e]) => `${s} export failed (${e.count}× in the last minute): ${e.message}`)
      .join('; ');
  }

  #seen(s: Signal, r: ExportResult): void {
    if (r.code === ExportResultCode.SUCCESS) return;
    const now = Date.now();
    const prev = this.#last[s];
    const fresh = !prev || now - prev.at > EXPORT_ERROR_WINDOW_MS;
    const message = r.error?.message ?? 'export failed';
    this.#last[s] = { at: now, message, count: fresh ? 1 : (prev?.count ?? 0) + 1 };
    if (fresh) this.#log.warn({ signal: s, error: message }, 'OpenTelemetry export failed');
  }
}
