import { type Context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { InMemorySpanExporter, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import {
  createTelemetry,
  parseKeyValueList,
  resourceFromEnv,
  samplerFromEnv,
  type Telemetry,
} from '../../../src/telemetry/otel.js';
import { otelEnvWarnings } from '../../../src/telemetry/otel-env-check.js';
import { uuidV5 } from '../../../src/telemetry/otel-resource.js';
import { injectMeta, telemetrySubject, traceIds } from '../../../src/telemetry/trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;
const META_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const META_TRACEPARENT = `00-${META_TRACE_ID}-b7ad6b7169203331-01`;

const started: Telemetry[] = [];
function telemetry(env: NodeJS.ProcessEnv, extra: Partial<Parameters<typeof createTelemetry>[0]> = {}) {
  // Unreachable test endpoints: do not wait the default 5 s for their final export on stop().
  const t = createTelemetry({
    env,
    serviceVersion: '1.2.3',
    logger: silentLogger(),
    shutdownTimeoutMs: 200,
    ...extra,
  });
  started.push(t);
  return t;
}

afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.stop()));
});

function lines(): { logger: ReturnType<typeof createLogger>; out: Record<string, unknown>[] } {
  const out: Record<string, unknown>[] = [];
  const logger = createLogger('info', { write: (s: string) => out.push(JSON.parse(s)) });
  return { logger, out };
}

describe('createTelemetry: when export is on', () => {
  it('is off without an OTLP endpoint: no-op tracer and logs, but a real meter for /metrics', async () => {
    const t = telemetry({});
    await t.start();
    expect(t.exporting).toBe(false);
    expect(t.tracer.startSpan('x').isRecording()).toBe(false);
    t.meter.createCounter('probe_total').add(1);
    expect((await t.prometheus()).body).toContain('probe_total 1');
    expect(t.status()).toEqual({ state: 'ok', exporting: false });
  });

  it('is on with OTEL_EXPORTER_OTLP_ENDPOINT or a per-signal endpoint, off with OTEL_SDK_DISABLED', () => {
    expect(telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' }).exporting).toBe(true);
    expect(telemetry({ OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'http://127.0.0.1:1/v1/logs' }).exporting).toBe(
      true,
    );
    const disabled = telemetry({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_SDK_DISABLED: 'true',
    });
    expect(disabled.exporting).toBe(false);
    expect(disabled.tracer.startSpan('x').isRecording()).toBe(false);
  });

  it('turns a signal off with OTEL_<SIGNAL>_EXPORTER=none', () => {
    const t = telemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_TRACES_EXPORTER: 'none' });
    expect(t.exporting).toBe(true);
    expect(t.tracer.startSpan('x').isRecording()).toBe(false);
  });

  it('sends http/protobuf by default and http/json when asked, per signal, without warnings', async () => {
    const { logger, out } = lines();
    const t = telemetry(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/json' },
      { logger },
    );
    await t.start();
    expect(out.filter((l) => l.level === 'warn')).toEqual([]);
    const configured = out.find((l) => l.msg === 'telemetry configured');
    expect(configured).toMatchObject({
      traces: 'otlp http/protobuf',
      metrics: 'otlp http/protobuf+prometheus',
      logs: 'otlp http/json',
    });
  });

  it('warns once started that grpc is not installed and http/protobuf is sent instead', async () => {
    const { logger, out } = lines();
    const t = telemetry(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' },
      { logger },
    );
    await t.start();
    const warnings = out.filter((l) => l.level === 'warn').map((l) => String(l.msg));
    expect(warnings.some((w) => /grpc .*not supported.*http\/protobuf.*4318/.test(w))).toBe(true);
    expect(out.find((l) => l.msg === 'telemetry configured')).toMatchObject({ traces: 'otlp http/protobuf' });
  });

  it('starts whatever OTEL_* numbers and endpoints say: 0 timeouts are none, bad values are warned about', async () => {
    const { logger, out } = lines();
    const t = telemetry(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
        OTEL_EXPORTER_OTLP_TIMEOUT: '0',
        OTEL_METRIC_EXPORT_INTERVAL: '0',
        OTEL_METRIC_EXPORT_TIMEOUT: '0',
        OTEL_BSP_EXPORT_TIMEOUT: '0',
        OTEL_BSP_MAX_QUEUE_SIZE: '0',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '0',
        // No scheme: not a URL the exporter can use; logs go nowhere rather than crash the sidecar.
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: '10.0.0.5:4317',
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'grpc',
      },
      { logger },
    );
    await t.start();
    expect(t.exporting).toBe(true);
    const warnings = out.filter((l) => l.level === 'warn').map((l) => String(l.msg));
    for (const name of [
      'OTEL_METRIC_EXPORT_INTERVAL=0 must be at least 1',
      'OTEL_BSP_MAX_QUEUE_SIZE=0 must be at least 1',
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE=0 must be at least 1',
      'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT is not an http(s) URL',
    ]) {
      expect(
        warnings.some((w) => w.includes(name)),
        name,
      ).toBe(true);
    }
    expect(out.find((l) => l.msg === 'telemetry configured')).toMatchObject({ logs: 'off' });
  });

  it('warns of exactly what otelEnvWarnings (config check) reads from the same env', async () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
      OTEL_EXPORTER_OTLP_TIMEOUT: 'soon',
      OTEL_METRIC_EXPORT_INTERVAL: '0',
      OTEL_TRACES_SAMPLER: 'sometimes',
      OTEL_TRACES_SAMPLER_ARG: '2',
      OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '0',
      OTEL_BSP_MAX_QUEUE_SIZE: '0',
      OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '0',
      OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT: '-1',
      OTEL_RESOURCE_ATTRIBUTES: 'broken',
      OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'grpc',
    };
    const { logger, out } = lines();
    await telemetry(env, { logger }).start();
    const logged = out.filter((l) => l.level === 'warn').map((l) => String(l.msg));
    const read = otelEnvWarnings(env);
    expect(read.length).toBeGreaterThanOrEqual(10);
    expect(logged).toEqual(read);
  });

  it('never logs header values from OTEL_EXPORTER_OTLP_HEADERS', async () => {
    const { logger, out } = lines();
    const t = telemetry(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cr3t-otlp,broken-entry-s3cr3t',
      },
      { logger },
    );
    await t.start();
    expect(JSON.stringify(out)).not.toContain('s3cr3t');
  });
});

describe('lost OTLP log records', () => {
  const exporter = (code: ExportResultCode, exported: unknown[] = []): LogRecordExporter => ({
    export: (records, cb) => {
      exported.push(...records);
      cb(code === ExportResultCode.SUCCESS ? { code } : { code, error: new Error('collector down') });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  });
  const env = { OTEL_BLRP_MAX_QUEUE_SIZE: '3', OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: '3' };
  /** Telemetry exporting logs to `logExporter`, with the records it reports lost counted. */
  const counting = (logExporter: LogRecordExporter) => {
    const t = telemetry(env, { logExporter });
    const lost = { n: 0 };
    t.onLogRecordsLost((n) => {
      lost.n += n;
    });
    return { t, lost };
  };

  it('reports every record the batch processor drops (queue full) or fails to export', async () => {
    const { t, lost } = counting(exporter(ExportResultCode.FAILED));
    for (let i = 0; i < 10; i++) t.logs.emit({ body: `record ${i}` });
    await t.flush();
    expect(lost.n).toBe(10);
    // The SDK's own counter still reaches /metrics, with the reason.
    const { body } = await t.prometheus();
    expect(body).toMatch(/otel_sdk_processor_log_processed_total\{[^}]*error_type="(queue_full|Error)"/);
  });

  it('reports nothing when every record is exported', async () => {
    const exported: unknown[] = [];
    const { t, lost } = counting(exporter(ExportResultCode.SUCCESS, exported));
    for (let i = 0; i < 3; i++) t.logs.emit({ body: `record ${i}` });
    await t.flush();
    expect(exported).toHaveLength(3);
    expect(lost.n).toBe(0);
  });
});

describe('trace context', () => {
  it('round-trips traceparent, tracestate and baggage through extract and inject', () => {
    const t = telemetry({});
    const ctx = t.extract({ traceparent: TRACEPARENT, tracestate: 'rojo=00f067aa0ba902b7', baggage: 'k=v' });
    expect(traceIds(ctx)).toEqual({ traceId: TRACE_ID, spanId: PARENT_ID, sampled: true });
    expect(traceIds(t.extract({ traceparent: TRACEPARENT.replace(/-01$/, '-00') })).sampled).toBe(false);
    const out: Record<string, string | string[]> = {};
    t.inject(ctx, out);
    expect(out).toEqual({ traceparent: TRACEPARENT, tracestate: 'rojo=00f067aa0ba902b7', baggage: 'k=v' });
  });

  it('prefers the MCP params._meta traceparent over the HTTP headers', () => {
    const t = telemetry({});
    const ctx = t.extract(
      { traceparent: TRACEPARENT },
      { traceparent: META_TRACEPARENT, tracestate: 'congo=t61rcWkgMzE', 'io.example/x': 1 },
    );
    expect(traceIds(ctx).traceId).toBe(META_TRACE_ID);
    const out: Record<string, string | string[]> = {};
    t.inject(ctx, out);
    expect(out.traceparent).toBe(META_TRACEPARENT);
    expect(out.tracestate).toBe('congo=t61rcWkgMzE');
  });

  it('falls back to the headers when _meta has no valid traceparent', () => {
    const t = telemetry({});
    for (const meta of [undefined, null, 'x', [], {}, { traceparent: 'garbage' }, { traceparent: 42 }]) {
      expect(traceIds(t.extract({ traceparent: TRACEPARENT }, meta)).traceId).toBe(TRACE_ID);
    }
    expect(traceIds(t.extract({})).traceId).toBeNull();
    expect(traceIds(t.extract({ traceparent: ['garbage'] })).traceId).toBeNull();
  });

  it('puts the sidecar span in the traceparent it propagates when tracing is on', async () => {
    const exporter = new InMemorySpanExporter();
    const t = telemetry({}, { spanExporter: exporter });
    const parent = t.extract({ traceparent: TRACEPARENT });
    const span = t.tracer.startSpan('POST /mcp', { kind: SpanKind.SERVER }, parent);
    const out: Record<string, string | string[]> = {};
    t.inject(trace.setSpan(parent, span), out);
    expect(out.traceparent).toBe(`00-${TRACE_ID}-${span.spanContext().spanId}-01`);
    span.end();
    await t.flush();
    const [s] = exporter.getFinishedSpans();
    expect(s?.parentSpanContext?.spanId).toBe(PARENT_ID);
    expect(s?.resource.attributes['service.version']).toBe('1.2.3');
  });

  it('caps span attribute values (4096 by default, or as OTEL_*_ATTRIBUTE_VALUE_LENGTH_LIMIT says)', async () => {
    for (const [env, max] of [
      [{}, 4_096],
      [{ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100' }, 100],
      [{ OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '100', OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: '50' }, 50],
    ] as const) {
      const exporter = new InMemorySpanExporter();
      const t = telemetry(env, { spanExporter: exporter });
      // A tool name is the caller's choice: a megabyte one must not make the export batch carrying it fail.
      t.tracer.startSpan('tools/call', { attributes: { 'gen_ai.tool.name': 'x'.repeat(1_000_000) } }).end();
      await t.flush();
      expect(exporter.getFinishedSpans()[0]?.attributes['gen_ai.tool.name']).toHaveLength(max);
    }
  });

  it('passes the caller context through unchanged when tracing is off', () => {
    const t = telemetry({});
    const parent = t.extract({ traceparent: TRACEPARENT });
    const span = t.tracer.startSpan('POST /mcp', {}, parent);
    const out: Record<string, string | string[]> = {};
    t.inject(trace.setSpan(parent, span), out);
    expect(out.traceparent).toBe(TRACEPARENT);
  });

  it('writes traceparent into an MCP _meta object', () => {
    const t = telemetry({});
    const meta: Record<string, unknown> = { progressToken: 1 };
    injectMeta(t.extract({ traceparent: TRACEPARENT }), meta);
    expect(meta).toEqual({ progressToken: 1, traceparent: TRACEPARENT });
    expect(traceIds(ROOT_CONTEXT as Context)).toEqual({ traceId: null, spanId: null, sampled: null });
  });
});

describe('configuration from OTEL_* and downward-API variables', () => {
  it('builds the resource: defaults, k8s from either spelling, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME', () => {
    expect(resourceFromEnv({}, '9').attributes).toMatchObject({
      'service.name': 'mcp-authz',
      'service.version': '9',
      'telemetry.sdk.language': 'nodejs',
    });
    const a = resourceFromEnv(
      {
        POD_NAME: 'mcp-0',
        K8S_NAMESPACE_NAME: 'tools',
        K8S_NODE_NAME: 'node-a',
        POD_UID: 'uid-1',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,k8s.node.name=node-b,team=a%2Cb',
        OTEL_SERVICE_NAME: 'crm-authz',
      },
      '9',
    ).attributes;
    expect(a).toMatchObject({
      'service.name': 'crm-authz',
      // UUID v5 of namespace.pod (no container here): unique across namespaces, unlike the pod name.
      'service.instance.id': uuidV5('4d63009a-8d0f-11ee-aad7-4c796ed8e320', 'tools.mcp-0'),
      'k8s.pod.name': 'mcp-0',
      'k8s.namespace.name': 'tools',
      'k8s.node.name': 'node-b',
      'k8s.pod.uid': 'uid-1',
      'deployment.environment.name': 'prod',
      team: 'a,b',
    });
  });

  it('makes name-based UUIDs (v5) as RFC 9562 does', () => {
    // The well-known example: the DNS namespace and www.example.com.
    expect(uuidV5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'www.example.com')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('parses key=value lists and reports bad entries without their values', () => {
    const warnings: string[] = [];
    expect(parseKeyValueList(' a = 1 ,b=%20x,c,d=%E0%A4%A', 'X', warnings)).toEqual({ a: '1', b: ' x' });
    expect(warnings).toHaveLength(2);
    expect(warnings.join()).not.toContain('%E0');
  });

  it('builds the sampler from OTEL_TRACES_SAMPLER and _ARG', () => {
    const w: string[] = [];
    expect(samplerFromEnv({}).toString()).toBe(
      'ParentBased{root=AlwaysOnSampler, remoteParentSampled=AlwaysOnSampler, remoteParentNotSampled=AlwaysOffSampler, localParentSampled=AlwaysOnSampler, localParentNotSampled=AlwaysOffSampler}',
    );
    expect(
      samplerFromEnv({
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).toString(),
    ).toContain('root=TraceIdRatioBased{0.25}');
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).toString()).toBe('AlwaysOffSampler');
    expect(
      samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '7' }, w).toString(),
    ).toBe('TraceIdRatioBased{1}');
    samplerFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }, w);
    expect(w).toHaveLength(2);
  });

  it('samples children of a sampled caller even when the root ratio is 0', async () => {
    const exporter = new InMemorySpanExporter();
    const t = telemetry(
      { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' },
      { spanExporter: exporter },
    );
    t.tracer.startSpan('root').end();
    t.tracer.startSpan('child', {}, t.extract({ traceparent: TRACEPARENT })).end();
    await t.flush();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['child']);
  });
});

describe('lifecycle', () => {
  it('is not_ready before start, ok after, warn after a failed export', async () => {
    const failing: SpanExporter = {
      export(_spans: ReadableSpan[], cb: (r: ExportResult) => void) {
        cb({ code: ExportResultCode.FAILED, error: new Error('collector said 400') });
      },
      shutdown: async () => {},
    };
    const t = telemetry({ OTEL_BSP_SCHEDULE_DELAY: '10' }, { spanExporter: failing });
    expect(t.status().state).toBe('not_ready');
    await t.start();
    expect(t.status().state).toBe('ok');
    t.tracer.startSpan('x').end();
    await expect.poll(() => t.status().state, { timeout: 2_000 }).toBe('warn');
    expect(t.status().detail).toMatch(/traces export failed \(1× in the last minute\): collector said 400/);
  });

  it('bounds stop() by the shutdown timeout when an exporter hangs, and is idempotent', async () => {
    const hanging: SpanExporter = {
      export() {},
      shutdown: () => new Promise(() => {}),
      forceFlush: () => new Promise(() => {}),
    };
    const t = telemetry({}, { spanExporter: hanging, shutdownTimeoutMs: 100 });
    t.tracer.startSpan('x').end();
    const t0 = Date.now();
    await Promise.all([t.stop(), t.stop()]);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(t.status().state).toBe('not_ready');
  });
});

describe('telemetrySubject', () => {
  it('gives the id, a keyed hash or nothing', () => {
    const key = Buffer.alloc(32, 7);
    expect(telemetrySubject('u-42', 'id', key)).toBe('u-42');
    expect(telemetrySubject('u-42', 'hash', key)).toMatch(/^hmac-sha256:[0-9a-f]{16}$/);
    expect(telemetrySubject('u-42', 'none', key)).toBeUndefined();
    expect(telemetrySubject(null, 'id', key)).toBeUndefined();
  });
});
