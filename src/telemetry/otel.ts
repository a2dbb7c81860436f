/**
 * The OpenTelemetry SDK for one sidecar: tracer, meter and log providers as INSTANCES (nothing is
 * registered globally, so several sidecars can share a test process), configured from the standard
 * `OTEL_*` variables of the env it is given. Export is off unless an OTLP endpoint is configured; the
 * meter is always real because `/metrics` (Prometheus text, serialised on demand) needs it.
 *
 * The `OTEL_*` variables it reads, and their defaults, are listed in `otel-config.ts`.
 *
 * @module
 */
import {
  type Context,
  type Meter,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { createNoopLogger, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { InstrumentType, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Component, ComponentStatus } from '../lifecycle.js';
import { ExportResults } from './export-results.js';
import { gaugesAsDelta } from './gauge-temporality.js';
import { countingLogLosses } from './log-losses.js';
import type { Logger } from './logger.js';
import {
  attributeLimitFromEnv,
  batchFromEnv,
  metricExportFromEnv,
  samplerFromEnv,
  signalsFromEnv,
} from './otel-config.js';
import { otelEnvWarnings } from './otel-env-check.js';
import { resourceFromEnv } from './otel-resource.js';
import { otlpExporters } from './otlp-exporters.js';
import { bucketsFirst, PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';
import { TalliedHistograms } from './tallied-histogram.js';
import { type Headers, headerGetter, metaCarrier } from './trace-context.js';

export {
  DEFAULT_SERVICE_NAME,
  parseKeyValueList,
  type Signal,
  samplerFromEnv,
} from './otel-config.js';
export { resourceFromEnv } from './otel-resource.js';

export const INSTRUMENTATION_NAME = 'mcp-authz';
/** `stop()` gives the providers this long to flush. */
export const TELEMETRY_SHUTDOWN_TIMEOUT_MS = 5_000;

export interface Telemetry extends Component {
  /** A no-op tracer (which passes an incoming trace context through unchanged) when tracing is off. */
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Histograms summed in the process (`tallied-histogram.ts`), collected by the same readers as `meter`. */
  readonly histograms: TalliedHistograms;
  /** A meter exported over OTLP only (not in /metrics); undefined without OTLP metrics. */
  readonly otlpOnlyMeter: Meter | undefined;
  /** Adds Prometheus text written by the caller to every `/metrics` answer (after the SDK's). */
  addPrometheusText(f: () => string): void;
  /** A no-op logger when OTLP logs are off. */
  readonly logs: OtelLogger;
  /** Where to report log records the OTLP batch processor dropped (queue full) or failed to export. */
  onLogRecordsLost(f: (records: number) => void): void;
  /** An OTLP endpoint is configured (for at least one signal). */
  readonly exporting: boolean;
  /** Spans are recorded and exported (a tracer provider exists); false: the tracer is a no-op. */
  readonly tracing: boolean;
  prometheus(): Promise<{ type: string; body: string }>;
  /** Exports everything buffered now (spans, log records, a metrics push), bounded by the shutdown timeout. */
  flush(): Promise<void>;
  /** W3C trace context (+ baggage) from HTTP headers, overridden by MCP `params._meta` when it has one. */
  extract(headers: Headers, meta?: unknown): Context;
  /** Writes `traceparent` / `tracestate` / `baggage` for `ctx` into `headers`. */
  inject(ctx: Context, headers: Record<string, string | string[]>): void;
}

export interface TelemetryOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly serviceVersion: string;
  readonly logger: Logger;
  /** Tests: export spans here (tracing on, whatever the env says). */
  readonly spanExporter?: SpanExporter;
  /** Tests: export log records here. */
  readonly logExporter?: LogRecordExporter;
  readonly shutdownTimeoutMs?: number;
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref());
}

export function createTelemetry(opts: TelemetryOptions): Telemetry {
  const { env } = opts;
  const log = opts.logger.child({ component: 'telemetry' });
  // What the OTEL_* variables get wrong, as `config check` prints it too (otel-env-check.ts); the reads
  // below take the values, their warnings already counted there.
  const warnings = otelEnvWarnings(env);
  const read: string[] = [];
  const { disabled, signals } = signalsFromEnv(env, read);
  const exporting = signals.traces !== null || signals.metrics !== null || signals.logs !== null;
  const resource = resourceFromEnv(env, opts.serviceVersion, read);

  const results = new ExportResults(log);
  // Metrics: Prometheus always (pull, on demand), OTLP when configured.
  const histograms = new TalliedHistograms({ name: INSTRUMENTATION_NAME, version: opts.serviceVersion });
  const prometheusReader = new PrometheusExporter({
    preventServerStart: true,
    metricProducers: [histograms.producer()],
  });
  const prometheusExtras: (() => string)[] = [];
  const serializer = new PrometheusSerializer('', false, undefined, false, true);
  const readers: ConstructorParameters<typeof MeterProvider>[0] = { resource, readers: [prometheusReader] };
  // A provider read by OTLP only: the semantic-convention instruments (semconv-metrics.ts) and the revision
  // gauge's OTLP copy; its one reader takes gauges as deltas.
  let otlpOnlyProvider: MeterProvider | undefined;
  const metricSignal = signals.metrics;
  if (metricSignal) {
    const { exportIntervalMillis, exportTimeoutMillis } = metricExportFromEnv(env, read);
    const otlpReader = (tallied?: TalliedHistograms) => {
      const exporter = gaugesAsDelta(otlpExporters.metrics(metricSignal));
      const temporality = exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM);
      return new PeriodicExportingMetricReader({
        exporter: results.observed(exporter, 'metrics'),
        exportIntervalMillis,
        exportTimeoutMillis,
        ...(tallied ? { metricProducers: [tallied.producer(temporality)] } : {}),
      });
    };
    readers.readers?.push(otlpReader(histograms));
    otlpOnlyProvider = new MeterProvider({ resource, readers: [otlpReader()] });
  }
  const meterProvider = new MeterProvider(readers);
  const meter = meterProvider.getMeter(INSTRUMENTATION_NAME, opts.serviceVersion);
  const otlpOnlyMeter = otlpOnlyProvider?.getMeter(INSTRUMENTATION_NAME, opts.serviceVersion);
  const selfObs = exporting ? { selfObsMeterProvider: meterProvider } : {};

  // Traces.
  const spanExporter =
    opts.spanExporter ?? (signals.traces ? otlpExporters.traces(signals.traces, selfObs) : undefined);
  const tracerProvider =
    spanExporter && !disabled
      ? new BasicTracerProvider({
          resource,
          sampler: samplerFromEnv(env, read),
          spanLimits: { attributeValueLengthLimit: attributeLimitFromEnv(env, 'SPAN', read) },
          spanProcessors: [
            new BatchSpanProcessor(
              results.observed(spanExporter, 'traces'),
              batchFromEnv(env, 'OTEL_BSP', read),
            ),
          ],
        })
      : undefined;
  const tracer = (tracerProvider ?? new ProxyTracerProvider()).getTracer(
    INSTRUMENTATION_NAME,
    opts.serviceVersion,
  );

  // Logs (the audit trail).
  let lostLogs: (records: number) => void = () => {};
  const logExporter =
    opts.logExporter ?? (signals.logs ? otlpExporters.logs(signals.logs, selfObs) : undefined);
  const loggerProvider =
    logExporter && !disabled
      ? new LoggerProvider({
          resource,
          logRecordLimits: { attributeValueLengthLimit: attributeLimitFromEnv(env, 'LOGRECORD', read) },
          processors: [
            new BatchLogRecordProcessor({
              exporter: results.observed(logExporter, 'logs'),
              ...batchFromEnv(env, 'OTEL_BLRP', read),
              // Its own counter reports what it drops or fails to export: the audit-drop counter hears it.
              selfObsMeterProvider: countingLogLosses(meterProvider, (n) => lostLogs(n)),
            }),
          ],
        })
      : undefined;
  const logs = loggerProvider?.getLogger(INSTRUMENTATION_NAME, opts.serviceVersion) ?? createNoopLogger();

  const propagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  let state: 'not_ready' | 'ok' | 'stopped' = 'not_ready';
  let stopping: Promise<void> | undefined;
  const shutdownTimeoutMs = opts.shutdownTimeoutMs ?? TELEMETRY_SHUTDOWN_TIMEOUT_MS;
  const bounded = async (what: string, work: Promise<unknown>) => {
    if ((await Promise.race([work, timeout(shutdownTimeoutMs)])) === 'timeout') {
      log.warn({ timeoutMs: shutdownTimeoutMs }, `telemetry ${what} did not finish in time`);
    }
  };

  return {
    name: 'telemetry',
    tracer,
    meter,
    histograms,
    otlpOnlyMeter,
    addPrometheusText(f) {
      prometheusExtras.push(f);
    },
    logs,
    onLogRecordsLost(f) {
      lostLogs = f;
    },
    exporting,
    tracing: tracerProvider !== undefined,
    async start() {
      for (const w of warnings) log.warn(w);
      log.info(
        {
          traces: tracerProvider ? (signals.traces ? `otlp ${signals.traces.protocol}` : 'custom') : 'off',
          metrics: signals.metrics ? `otlp ${signals.metrics.protocol}+prometheus` : 'prometheus',
          logs: loggerProvider ? (signals.logs ? `otlp ${signals.logs.protocol}` : 'custom') : 'off',
        },
        'telemetry configured',
      );
      state = 'ok';
    },
    stop() {
      stopping ??= (async () => {
        state = 'stopped';
        await bounded(
          'shutdown',
          Promise.allSettled([
            tracerProvider?.shutdown(),
            loggerProvider?.shutdown(),
            meterProvider.shutdown(),
            otlpOnlyProvider?.shutdown(),
          ]),
        );
      })();
      return stopping;
    },
    async flush() {
      if (stopping) return stopping;
      await bounded(
        'flush',
        Promise.allSettled([
          tracerProvider?.forceFlush(),
          loggerProvider?.forceFlush(),
          meterProvider.forceFlush(),
          otlpOnlyProvider?.forceFlush(),
        ]),
      );
    },
    status(): ComponentStatus {
      if (state !== 'ok') return { state: 'not_ready', exporting };
      const failures = results.recentFailures();
      return failures === null ? { state: 'ok', exporting } : { state: 'warn', exporting, detail: failures };
    },
    async prometheus() {
      const { resourceMetrics, errors } = await prometheusReader.collect();
      if (errors.length > 0) log.warn({ errors: errors.map(String) }, 'metric collection errors');
      const body = bucketsFirst(serializer.serialize(resourceMetrics));
      return { type: PROMETHEUS_CONTENT_TYPE, body: body + prometheusExtras.map((f) => f()).join('') };
    },
    extract(headers, meta) {
      const fromHeaders = propagator.extract(ROOT_CONTEXT, headers, headerGetter);
      const carrier = metaCarrier(meta);
      if (!carrier) return fromHeaders;
      const fromMeta = propagator.extract(ROOT_CONTEXT, carrier, headerGetter);
      return trace.getSpanContext(fromMeta) ? fromMeta : fromHeaders;
    },
    inject(ctx, headers) {
      propagator.inject(ctx, headers, {
        set(carrier, key, value) {
          carrier[key] = value;
        },
      });
    },
  };
}
