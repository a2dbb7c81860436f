/**
 * The OpenTelemetry SDK for one sidecar: tracer, meter and log providers as INSTANCES (nothing is
 * registered globally, so several sidecars can share a test process), configured from the standard
 * `OTEL_*` variables of the env it is given. Export is off unless an OTLP endpoint is configured; the
 * meter is always real because `/metrics` (Prometheus text, serialised on demand) needs it.
 *
 * Variables read: `OTEL_SDK_DISABLED` (true: no tracing, no OTLP; `/metrics` still works),
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL, `/v1/{traces,metrics,logs}` appended) and the per-signal
 * `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` (used as is), `…_HEADERS`, `…_TIMEOUT`,
 * `…_COMPRESSION` (gzip|none), `…_PROTOCOL` (only `http/json` is installed: `http/protobuf` and `grpc` fall
 * back to it with a warning), `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` (`none` turns a signal off),
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_BLRP_*`,
 * `OTEL_METRIC_EXPORT_{INTERVAL,TIMEOUT}`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, and the
 * Kubernetes downward-API variables `POD_NAME`|`K8S_POD_NAME`, `POD_NAMESPACE`|`K8S_NAMESPACE_NAME`|
 * `K8S_POD_NAMESPACE`, `NODE_NAME`|`K8S_NODE_NAME`, `POD_UID`|`K8S_POD_UID`, `CONTAINER_NAME`|
 * `K8S_CONTAINER_NAME` (resource attributes `k8s.*`; `OTEL_RESOURCE_ATTRIBUTES` wins over them).
 *
 * @module
 */
import {
  type Context,
  isSpanContextValid,
  type Meter,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Span,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { createNoopLogger, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import {
  CompositePropagator,
  type ExportResult,
  ExportResultCode,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, type Resource, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { hmacTag } from '../audit/mask.js';
import type { Component, ComponentStatus } from '../lifecycle.js';
import type { Logger } from './logger.js';
import * as sc from './semconv.js';

export const DEFAULT_SERVICE_NAME = 'mcp-authz';
export const INSTRUMENTATION_NAME = 'mcp-authz';
/** `stop()` gives the providers this long to flush. */
export const TELEMETRY_SHUTDOWN_TIMEOUT_MS = 5_000;
/** An export error this recent makes `status()` `warn`. */
export const EXPORT_ERROR_WINDOW_MS = 60_000;
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Signal = 'traces' | 'metrics' | 'logs';
type Headers = Record<string, string | string[] | undefined>;

export interface Telemetry extends Component {
  /** A no-op tracer (which passes an incoming trace context through unchanged) when tracing is off. */
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** A no-op logger when OTLP logs are off. */
  readonly logs: OtelLogger;
  /** An OTLP endpoint is configured (for at least one signal). */
  readonly exporting: boolean;
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

interface SignalConfig {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly timeoutMillis: number;
  readonly gzip: boolean;
}

const SIGNAL_PATH: Record<Signal, string> = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' };

function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function num(env: NodeJS.ProcessEnv, name: string, warnings: string[]): number | undefined {
  const v = str(env, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return n;
  warnings.push(`${name}=${v} is not a non-negative number; ignored`);
  return undefined;
}

/** `k=v,k2=v2` with percent-encoded values (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS). */
export function parseKeyValueList(
  raw: string | undefined,
  name: string,
  warnings: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const part of raw.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      if (part.trim()) warnings.push(`${name}: an entry has no key=value form; ignored`);
      continue;
    }
    try {
      out[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      warnings.push(`${name}: an entry is not valid percent-encoding; ignored`);
    }
  }
  return out;
}

function signalConfig(env: NodeJS.ProcessEnv, s: Signal, warnings: string[]): SignalConfig | null {
  const S = s.toUpperCase();
  const exporters = (str(env, `OTEL_${S}_EXPORTER`) ?? 'otlp').split(',').map((e) => e.trim());
  if (exporters.includes('none')) return null;
  if (!exporters.includes('otlp')) {
    warnings.push(`OTEL_${S}_EXPORTER=${exporters.join(',')}: only otlp is supported; ${s} not exported`);
    return null;
  }
  const specific = str(env, `OTEL_EXPORTER_OTLP_${S}_ENDPOINT`);
  const base = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (!specific && !base) return null;
  const url = specific ?? `${(base as string).replace(/\/+$/, '')}/${SIGNAL_PATH[s]}`;
  const protocol = str(env, `OTEL_EXPORTER_OTLP_${S}_PROTOCOL`) ?? str(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol && protocol !== 'http/json') {
    warnings.push(
      `OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} for ${s} is not supported: only the OTLP/HTTP JSON exporters are ` +
        `installed (no http/protobuf or grpc exporter packages); sending http/json to ${new URL(url).origin} ` +
        `instead${protocol === 'grpc' ? ' (point the endpoint at the collector HTTP port, usually 4318)' : ''}`,
    );
  }
  const compression =
    str(env, `OTEL_EXPORTER_OTLP_${S}_COMPRESSION`) ?? str(env, 'OTEL_EXPORTER_OTLP_COMPRESSION');
  return {
    url,
    headers: {
      ...parseKeyValueList(str(env, 'OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', warnings),
      ...parseKeyValueList(
        str(env, `OTEL_EXPORTER_OTLP_${S}_HEADERS`),
        `OTEL_EXPORTER_OTLP_${S}_HEADERS`,
        warnings,
      ),
    },
    timeoutMillis:
      num(env, `OTEL_EXPORTER_OTLP_${S}_TIMEOUT`, warnings) ??
      num(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', warnings) ??
      10_000,
    gzip: compression === 'gzip',
  };
}

/** The sampler named by `OTEL_TRACES_SAMPLER` (+ `_ARG`); default `parentbased_always_on`. */
export function samplerFromEnv(env: NodeJS.ProcessEnv, warnings: string[] = []): Sampler {
  const name = str(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  const arg = str(env, 'OTEL_TRACES_SAMPLER_ARG');
  let ratio = arg === undefined ? 1 : Number(arg);
  if (!(ratio >= 0 && ratio <= 1)) {
    warnings.push(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio in [0, 1]; using 1`);
    ratio = 1;
  }
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      warnings.push(`OTEL_TRACES_SAMPLER=${name} is not supported; using parentbased_always_on`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

const K8S_ENV: readonly (readonly [string, readonly string[]])[] = [
  [sc.ATTR_K8S_POD_NAME, ['POD_NAME', 'K8S_POD_NAME']],
  [sc.ATTR_K8S_NAMESPACE_NAME, ['POD_NAMESPACE', 'K8S_NAMESPACE_NAME', 'K8S_POD_NAMESPACE']],
  [sc.ATTR_K8S_NODE_NAME, ['NODE_NAME', 'K8S_NODE_NAME']],
  [sc.ATTR_K8S_POD_UID, ['POD_UID', 'K8S_POD_UID']],
  [sc.ATTR_K8S_CONTAINER_NAME, ['CONTAINER_NAME', 'K8S_CONTAINER_NAME']],
];

/** service.*, k8s.* from the downward API, then OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME. */
export function resourceFromEnv(
  env: NodeJS.ProcessEnv,
  serviceVersion: string,
  warnings: string[] = [],
): Resource {
  const attrs: Record<string, string> = {
    [sc.ATTR_SERVICE_NAME]: DEFAULT_SERVICE_NAME,
    [sc.ATTR_SERVICE_VERSION]: serviceVersion,
  };
  for (const [attr, names] of K8S_ENV) {
    const v = names.map((n) => str(env, n)).find((x) => x !== undefined);
    if (v !== undefined) attrs[attr] = v;
  }
  const pod = attrs[sc.ATTR_K8S_POD_NAME];
  if (pod) attrs[sc.ATTR_SERVICE_INSTANCE_ID] = pod;
  Object.assign(
    attrs,
    parseKeyValueList(str(env, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', warnings),
  );
  const serviceName = str(env, 'OTEL_SERVICE_NAME');
  if (serviceName) attrs[sc.ATTR_SERVICE_NAME] = serviceName;
  return defaultResource().merge(resourceFromAttributes(attrs));
}

const headerGetter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get(carrier, key) {
    const v = carrier[key] ?? carrier[key.toLowerCase()];
    return Array.isArray(v) ? v.join(',') : v;
  },
};

function metaCarrier(meta: unknown): Headers | undefined {
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return undefined;
  const m = meta as Record<string, unknown>;
  if (typeof m.traceparent !== 'string') return undefined;
  const out: Headers = { traceparent: m.traceparent };
  if (typeof m.tracestate === 'string') out.tracestate = m.tracestate;
  if (typeof m.baggage === 'string') out.baggage = m.baggage;
  return out;
}

/** Trace and span id of a context or span; nulls when there is no valid one (for audit records). */
export function traceIds(from: Context | Span): { traceId: string | null; spanId: string | null } {
  const s = 'spanContext' in from ? from.spanContext() : trace.getSpanContext(from);
  return s && isSpanContextValid(s)
    ? { traceId: s.traceId, spanId: s.spanId }
    : { traceId: null, spanId: null };
}

/** The `mcp_authz.subject` attribute value per config: the id, its keyed hash, or nothing. */
export function telemetrySubject(
  id: string | null,
  mode: 'id' | 'hash' | 'none',
  key: Buffer,
): string | undefined {
  if (id === null || mode === 'none') return undefined;
  return mode === 'id' ? id : hmacTag(id, key);
}

/**
 * Moves each histogram data point's `_bucket` lines before its `_sum` and `_count` (the order the
 * Prometheus client libraries write, and one simple parsers rely on); the OpenTelemetry serializer writes
 * count, sum, buckets. Nothing else changes.
 */
export function bucketsFirst(text: string): string {
  const out: string[] = [];
  let histogram: string | null = null;
  let head: string[] = [];
  let buckets: string[] = [];
  const flush = () => {
    out.push(...buckets, ...head);
    head = [];
    buckets = [];
  };
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') {
      flush();
      const m = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (m) histogram = m[2] === 'histogram' ? (m[1] as string) : null;
      out.push(line);
    } else if (histogram && line.startsWith(`${histogram}_bucket`)) {
      buckets.push(line);
    } else if (histogram && line.startsWith(`${histogram}_count`)) {
      flush();
      head.push(line);
    } else if (histogram && line.startsWith(`${histogram}_sum`)) {
      head.push(line);
    } else {
      flush();
      out.push(line);
    }
  }
  flush();
  return out.join('\n');
}

type Exporting = { export(items: never, cb: (r: ExportResult) => void): void };

/** Wraps `export` so every result is seen (for `status()` and a rate-limited log line). */
function observed<E extends Exporting>(exporter: E, onResult: (r: ExportResult) => void): E {
  const inner = exporter.export.bind(exporter) as (items: unknown, cb: (r: ExportResult) => void) => void;
  const wrapped = (items: unknown, cb: (r: ExportResult) => void) =>
    inner(items, (r) => {
      onResult(r);
      cb(r);
    });
  Object.defineProperty(exporter, 'export', { value: wrapped, writable: true, configurable: true });
  return exporter;
}

function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(resolve, ms, 'timeout').unref());
}

export function createTelemetry(opts: TelemetryOptions): Telemetry {
  const { env } = opts;
  const log = opts.logger.child({ component: 'telemetry' });
  const warnings: string[] = [];
  const disabled = str(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  const signals: Record<Signal, SignalConfig | null> = {
    traces: disabled ? null : signalConfig(env, 'traces', warnings),
    metrics: disabled ? null : signalConfig(env, 'metrics', warnings),
    logs: disabled ? null : signalConfig(env, 'logs', warnings),
  };
  const exporting = signals.traces !== null || signals.metrics !== null || signals.logs !== null;
  const resource = resourceFromEnv(env, opts.serviceVersion, warnings);

  const lastError: Partial<Record<Signal, { at: number; message: string; count: number }>> = {};
  const onResult = (s: Signal) => (r: ExportResult) => {
    if (r.code === ExportResultCode.SUCCESS) return;
    const now = Date.now();
    const prev = lastError[s];
    const fresh = !prev || now - prev.at > EXPORT_ERROR_WINDOW_MS;
    const message = r.error?.message ?? 'export failed';
    lastError[s] = { at: now, message, count: fresh ? 1 : (prev?.count ?? 0) + 1 };
    if (fresh) log.warn({ signal: s, error: message }, 'OpenTelemetry export failed');
  };
  const otlp = (s: Signal) => {
    const c = signals[s] as SignalConfig;
    return {
      url: c.url,
      headers: c.headers,
      timeoutMillis: c.timeoutMillis,
      ...(c.gzip
        ? {
            compression: 'gzip' as NonNullable<
              ConstructorParameters<typeof OTLPTraceExporter>[0]
            >['compression'],
          }
        : {}),
    };
  };

  // Metrics: Prometheus always (pull, on demand), OTLP when configured.
  const prometheusReader = new PrometheusExporter({ preventServerStart: true });
  const serializer = new PrometheusSerializer('', false, undefined, false, true);
  const readers: ConstructorParameters<typeof MeterProvider>[0] = { resource, readers: [prometheusReader] };
  if (signals.metrics) {
    const interval = num(env, 'OTEL_METRIC_EXPORT_INTERVAL', warnings) ?? 60_000;
    readers.readers?.push(
      new PeriodicExportingMetricReader({
        exporter: observed(new OTLPMetricExporter(otlp('metrics')), onResult('metrics')),
        exportIntervalMillis: interval,
        exportTimeoutMillis: Math.min(interval, num(env, 'OTEL_METRIC_EXPORT_TIMEOUT', warnings) ?? 30_000),
      }),
    );
  }
  const meterProvider = new MeterProvider(readers);
  const meter = meterProvider.getMeter(INSTRUMENTATION_NAME, opts.serviceVersion);
  const selfObs = exporting ? { selfObsMeterProvider: meterProvider } : {};

  // Traces.
  const spanExporter =
    opts.spanExporter ??
    (signals.traces ? new OTLPTraceExporter({ ...otlp('traces'), ...selfObs }) : undefined);
  const tracerProvider =
    spanExporter && !disabled
      ? new BasicTracerProvider({
          resource,
          sampler: samplerFromEnv(env, warnings),
          spanProcessors: [
            new BatchSpanProcessor(observed(spanExporter, onResult('traces')), {
              scheduledDelayMillis: num(env, 'OTEL_BSP_SCHEDULE_DELAY', warnings) ?? 5_000,
              exportTimeoutMillis: num(env, 'OTEL_BSP_EXPORT_TIMEOUT', warnings) ?? 30_000,
              maxQueueSize: num(env, 'OTEL_BSP_MAX_QUEUE_SIZE', warnings) ?? 2_048,
              maxExportBatchSize: num(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', warnings) ?? 512,
            }),
          ],
        })
      : undefined;
  const tracer = (tracerProvider ?? new ProxyTracerProvider()).getTracer(
    INSTRUMENTATION_NAME,
    opts.serviceVersion,
  );

  // Logs (the audit trail).
  const logExporter =
    opts.logExporter ?? (signals.logs ? new OTLPLogExporter({ ...otlp('logs'), ...selfObs }) : undefined);
  const loggerProvider =
    logExporter && !disabled
      ? new LoggerProvider({
          resource,
          processors: [
            new BatchLogRecordProcessor({
              exporter: observed(logExporter, onResult('logs')),
              scheduledDelayMillis: num(env, 'OTEL_BLRP_SCHEDULE_DELAY', warnings) ?? 1_000,
              exportTimeoutMillis: num(env, 'OTEL_BLRP_EXPORT_TIMEOUT', warnings) ?? 30_000,
              maxQueueSize: num(env, 'OTEL_BLRP_MAX_QUEUE_SIZE', warnings) ?? 2_048,
              maxExportBatchSize: num(env, 'OTEL_BLRP_MAX_EXPORT_BATCH_SIZE', warnings) ?? 512,
              ...selfObs,
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
    logs,
    exporting,
    async start() {
      for (const w of warnings) log.warn(w);
      log.info(
        {
          traces: tracerProvider ? (signals.traces ? 'otlp' : 'custom') : 'off',
          metrics: signals.metrics ? 'otlp+prometheus' : 'prometheus',
          logs: loggerProvider ? (signals.logs ? 'otlp' : 'custom') : 'off',
          protocol: 'http/json',
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
        ]),
      );
    },
    status(): ComponentStatus {
      if (state !== 'ok') return { state: 'not_ready', exporting };
      const now = Date.now();
      const recent = (
        Object.entries(lastError) as [Signal, { at: number; message: string; count: number }][]
      ).filter(([, e]) => now - e.at <= EXPORT_ERROR_WINDOW_MS);
      if (recent.length === 0) return { state: 'ok', exporting };
      return {
        state: 'warn',
        exporting,
        detail: recent
          .map(([s, e]) => `${s} export failed (${e.count}× in the last minute): ${e.message}`)
          .join('; '),
      };
    },
    async prometheus() {
      const { resourceMetrics, errors } = await prometheusReader.collect();
      if (errors.length > 0) log.warn({ errors: errors.map(String) }, 'metric collection errors');
      return { type: PROMETHEUS_CONTENT_TYPE, body: bucketsFirst(serializer.serialize(resourceMetrics)) };
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

/** Writes `traceparent` / `tracestate` for `ctx` into an MCP `params._meta` object (SEP-414). */
export function injectMeta(ctx: Context, meta: Record<string, unknown>): void {
  new W3CTraceContextPropagator().inject(ctx, meta, {
    set(carrier, key, value) {
      carrier[key] = value;
    },
  });
}
