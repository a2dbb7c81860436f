/**
 * The standard `OTEL_*` variables of one sidecar's env, read into the settings the OpenTelemetry SDK
 * instances of `otel.ts` are built from. Nothing here throws on a bad value: each problem becomes a line in
 * the `warnings` array the caller passes, and the default is used (createTelemetry logs them on start).
 *
 * Variables read: `OTEL_SDK_DISABLED` (true: no tracing, no OTLP; `/metrics` still works),
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL, `/v1/{traces,metrics,logs}` appended) and the per-signal
 * `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_ENDPOINT` (used as is), `…_HEADERS`, `…_TIMEOUT`,
 * `…_COMPRESSION` (gzip|none), `…_PROTOCOL` (`http/protobuf`, the default the OpenTelemetry spec sets, or
 * `http/json`; `grpc` is not installed and falls back to `http/protobuf` with a warning),
 * `OTEL_{TRACES,METRICS,LOGS}_EXPORTER` (`none` turns a signal off),
 * `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, `OTEL_BLRP_*`,
 * `OTEL_METRIC_EXPORT_{INTERVAL,TIMEOUT}`, `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, and the
 * Kubernetes downward-API variables `POD_NAME`|`K8S_POD_NAME`, `POD_NAMESPACE`|`K8S_NAMESPACE_NAME`|
 * `K8S_POD_NAMESPACE`, `NODE_NAME`|`K8S_NODE_NAME`, `POD_UID`|`K8S_POD_UID`, `CONTAINER_NAME`|
 * `K8S_CONTAINER_NAME` (resource attributes `k8s.*`, built in `otel-resource.ts`; `OTEL_RESOURCE_ATTRIBUTES`
 * wins over them).
 *
 * @module
 */
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';

export const DEFAULT_SERVICE_NAME = 'mcp-authz';

export type Signal = 'traces' | 'metrics' | 'logs';

/** The OTLP/HTTP encodings the sidecar can send. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';
/** The OpenTelemetry spec's default for OTLP exporters. */
export const DEFAULT_OTLP_PROTOCOL: OtlpProtocol = 'http/protobuf';

/** Where and how one signal is exported over OTLP/HTTP. */
export interface SignalConfig {
  readonly url: string;
  readonly protocol: OtlpProtocol;
  readonly headers: Record<string, string>;
  readonly timeoutMillis: number;
  readonly gzip: boolean;
}

/** The batch processor settings of spans (`OTEL_BSP_*`) or log records (`OTEL_BLRP_*`). */
export interface BatchConfig {
  readonly scheduledDelayMillis: number;
  readonly exportTimeoutMillis: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
}

const SIGNAL_PATH: Record<Signal, string> = { traces: 'v1/traces', metrics: 'v1/metrics', logs: 'v1/logs' };

/** The default batch delay: spans 5 s, log records (the audit trail) 1 s. */
const BATCH_DELAY_MS = { OTEL_BSP: 5_000, OTEL_BLRP: 1_000 } as const;

export function str(env: NodeJS.ProcessEnv, name: string): string | undefined {
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

/** The longest timer Node accepts (~24.8 days): what an "indefinite" timeout becomes. */
export const INDEFINITE_MS = 2 ** 31 - 1;

/** A timeout in ms; 0 means no timeout (the SDK environment spec), which the SDK's timers express as the longest. */
function timeoutMs(env: NodeJS.ProcessEnv, name: string, warnings: string[]): number | undefined {
  const n = num(env, name, warnings);
  return n === 0 ? INDEFINITE_MS : n === undefined ? undefined : Math.min(n, INDEFINITE_MS);
}

/** A count or interval that must be at least 1; 0 is ignored with a warning (the SDK would throw). */
function positive(env: NodeJS.ProcessEnv, name: string, warnings: string[]): number | undefined {
  const n = num(env, name, warnings);
  if (n === undefined || n >= 1) return n === undefined ? n : Math.min(n, INDEFINITE_MS);
  warnings.push(`${name}=${n} must be at least 1; ignored`);
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
  if (!isHttpUrl(url)) {
    warnings.push(
      `${specific ? `OTEL_EXPORTER_OTLP_${S}_ENDPOINT` : 'OTEL_EXPORTER_OTLP_ENDPOINT'} is not an http(s) URL ` +
        `(a scheme is required, e.g. http://collector:4318); ${s} not exported`,
    );
    return null;
  }
  const protocol = protocolOf(
    str(env, `OTEL_EXPORTER_OTLP_${S}_PROTOCOL`) ?? str(env, 'OTEL_EXPORTER_OTLP_PROTOCOL'),
    s,
    url,
    warnings,
  );
  const compression =
    str(env, `OTEL_EXPORTER_OTLP_${S}_COMPRESSION`) ?? str(env, 'OTEL_EXPORTER_OTLP_COMPRESSION');
  return {
    url,
    protocol,
    headers: {
      ...parseKeyValueList(str(env, 'OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', warnings),
      ...parseKeyValueList(
        str(env, `OTEL_EXPORTER_OTLP_${S}_HEADERS`),
        `OTEL_EXPORTER_OTLP_${S}_HEADERS`,
        warnings,
      ),
    },
    timeoutMillis:
      timeoutMs(env, `OTEL_EXPORTER_OTLP_${S}_TIMEOUT`, warnings) ??
      timeoutMs(env, 'OTEL_EXPORTER_OTLP_TIMEOUT', warnings) ??
      10_000,
    gzip: compression === 'gzip',
  };
}

/**
 * `OTEL_SDK_DISABLED` and, unless it is true, the OTLP export of each signal (traces, metrics, logs, in that
 * order); a signal is `null` when it has no endpoint or its exporter is `none`.
 */
export function signalsFromEnv(
  env: NodeJS.ProcessEnv,
  warnings: string[],
): { disabled: boolean; signals: Record<Signal, SignalConfig | null> } {
  const disabled = str(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true';
  return {
    disabled,
    signals: {
      traces: disabled ? null : signalConfig(env, 'traces', warnings),
      metrics: disabled ? null : signalConfig(env, 'metrics', warnings),
      logs: disabled ? null : signalConfig(env, 'logs', warnings),
    },
  };
}

/** `OTEL_METRIC_EXPORT_INTERVAL` (default 60 s) and `_TIMEOUT` (default 30 s, at most the interval). */
export function metricExportFromEnv(
  env: NodeJS.ProcessEnv,
  warnings: string[],
): { exportIntervalMillis: number; exportTimeoutMillis: number } {
  const interval = positive(env, 'OTEL_METRIC_EXPORT_INTERVAL', warnings) ?? 60_000;
  return {
    exportIntervalMillis: interval,
    exportTimeoutMillis: Math.min(interval, timeoutMs(env, 'OTEL_METRIC_EXPORT_TIMEOUT', warnings) ?? 30_000),
  };
}

/** `<prefix>_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT` (30 s), `_MAX_QUEUE_SIZE` (2048), `_MAX_EXPORT_BATCH_SIZE` (512). */
export function batchFromEnv(
  env: NodeJS.ProcessEnv,
  prefix: keyof typeof BATCH_DELAY_MS,
  warnings: string[],
): BatchConfig {
  return {
    scheduledDelayMillis: num(env, `${prefix}_SCHEDULE_DELAY`, warnings) ?? BATCH_DELAY_MS[prefix],
    exportTimeoutMillis: timeoutMs(env, `${prefix}_EXPORT_TIMEOUT`, warnings) ?? 30_000,
    maxQueueSize: positive(env, `${prefix}_MAX_QUEUE_SIZE`, warnings) ?? 2_048,
    maxExportBatchSize: positive(env, `${prefix}_MAX_EXPORT_BATCH_SIZE`, warnings) ?? 512,
  };
}

/**
 * Longest attribute value a span or log record keeps (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` /
 * `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, else `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`), default
 * {@link ATTRIBUTE_VALUE_MAX_CHARS} rather than the SDK's none: tool names, resource URIs and the reasons
 * quoting them are the caller's choice, and a megabyte one would make each export batch carrying it fail.
 */
export const ATTRIBUTE_VALUE_MAX_CHARS = 4_096;

export function attributeLimitFromEnv(
  env: NodeJS.ProcessEnv,
  signal: 'SPAN' | 'LOGRECORD',
  warnings: string[],
): number {
  return (
    positive(env, `OTEL_${signal}_ATTRIBUTE_VALUE_LENGTH_LIMIT`, warnings) ??
    positive(env, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', warnings) ??
    ATTRIBUTE_VALUE_MAX_CHARS
  );
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

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

function protocolOf(value: string | undefined, s: Signal, url: string, warnings: string[]): OtlpProtocol {
  if (value === undefined) return DEFAULT_OTLP_PROTOCOL;
  if (value === 'http/protobuf' || value === 'http/json') return value;
  warnings.push(
    `OTEL_EXPORTER_OTLP_PROTOCOL=${value} for ${s} is not supported: only the OTLP/HTTP exporters are ` +
      `installed (http/protobuf, http/json); sending ${DEFAULT_OTLP_PROTOCOL} to ${new URL(url).origin} ` +
      `instead${value === 'grpc' ? ' (point the endpoint at the collector HTTP port, usually 4318)' : ''}`,
  );
  return DEFAULT_OTLP_PROTOCOL;
}
