/**
 * The telemetry SDK against a real OTLP/HTTP receiver in this process: spans, the audit log record and
 * metrics arrive over HTTP as JSON, share one trace id, carry the Kubernetes resource attributes, and
 * `stop()` flushes them all.
 */
import { SpanKind, trace } from '@opentelemetry/api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildAuditRecord } from '../../src/audit/record.js';
import { createAuditSink } from '../../src/audit/sink.js';
import { ANONYMOUS } from '../../src/authn/principal.js';
import { classify } from '../../src/mcp/action.js';
import { silentLogger } from '../../src/telemetry/logger.js';
import { SidecarMetrics } from '../../src/telemetry/metrics.js';
import { createTelemetry, type Telemetry } from '../../src/telemetry/otel.js';
import * as sc from '../../src/telemetry/semconv.js';
import { traceIds } from '../../src/telemetry/trace-context.js';
import { type OtlpReceiver, startOtlpReceiver } from '../helpers/otlp-receiver.js';

const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const K8S_ENV = { POD_NAME: 'mcp-7f9c-0', POD_NAMESPACE: 'tools', NODE_NAME: 'node-a', POD_UID: 'uid-123' };

let receiver: OtlpReceiver;
let telemetry: Telemetry | undefined;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await telemetry?.stop();
  telemetry = undefined;
  await receiver.stop();
});

function start(env: NodeJS.ProcessEnv): Promise<Telemetry> {
  const t = createTelemetry({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, ...K8S_ENV, ...env },
    serviceVersion: '0.1.0',
    logger: silentLogger(),
  });
  telemetry = t;
  return t.start().then(() => t);
}

describe('telemetry over OTLP/HTTP', () => {
  it.each([
    ['http/protobuf, the default', {}, 'application/x-protobuf'],
    ['http/json', { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'application/json'],
  ] as const)(
    'exports a trace, the audit log record with the same trace id, and metrics; stop() flushes (%s)',
    async (_name, protocolEnv, contentType) => {
      const t = await start({ OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-tenant=acme', ...protocolEnv });
      expect(t.exporting).toBe(true);
      const metrics = new SidecarMetrics(t);
      metrics.setToolNames(['read_customer']);
      const audit = createAuditSink({ logger: silentLogger(), otelLogs: t.logs });

      const parent = t.extract({ traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01` });
      const server = t.tracer.startSpan(
        'POST /mcp',
        {
          kind: SpanKind.SERVER,
          attributes: { [sc.ATTR_HTTP_REQUEST_METHOD]: 'POST', [sc.ATTR_HTTP_ROUTE]: '/mcp' },
        },
        parent,
      );
      const decide = t.tracer.startSpan(
        sc.mcpSpanName('tools/call', 'read_customer'),
        {
          attributes: {
            [sc.ATTR_MCP_METHOD_NAME]: 'tools/call',
            [sc.ATTR_GEN_AI_TOOL_NAME]: 'read_customer',
            [sc.ATTR_AUTHZ_DECISION]: 'deny',
          },
        },
        trace.setSpan(parent, server),
      );
      const ids = traceIds(decide);
      audit.write(
        buildAuditRecord(
          {
            decisionId: 'd-1',
            time: new Date(),
            ...ids,
            requestId: 'r-1',
            principal: ANONYMOUS,
            action: classify('tools/call', 1, { name: 'read_customer', arguments: { ssn: '123-45-6789' } }),
            decision: {
              allow: false,
              reasons: ['no'],
              obligations: {},
              sensitivity: undefined,
              revision: 'rev-1',
              evalNs: 1,
            },
            clientIp: '127.0.0.1',
            sessionId: null,
            transport: 'streamable-http',
          },
          { arguments: 'hash', maskArguments: [], key: Buffer.alloc(32, 9) },
        ),
      );
      metrics.decision('deny', 'tools/call', 'read_customer', 0.00004);
      metrics.request('mcp', 403, 'policy', 0.012, 'POST');
      decide.end();
      server.end();

      await audit.stop();
      await t.stop();
      // No waiting: stop() has flushed all three signals.
      const spans = receiver.spans();
      const serverSpan = spans.find((s) => s.name === 'POST /mcp');
      const decideSpan = spans.find((s) => s.name === 'tools/call read_customer');
      expect(serverSpan).toMatchObject({ traceId: CALLER_TRACE_ID, parentSpanId: CALLER_SPAN_ID, kind: 2 });
      expect(decideSpan).toMatchObject({
        traceId: CALLER_TRACE_ID,
        parentSpanId: serverSpan?.spanId,
        attributes: {
          'mcp.method.name': 'tools/call',
          'gen_ai.tool.name': 'read_customer',
          'mcp_authz.decision': 'deny',
        },
      });
      expect(serverSpan?.resource).toMatchObject({
        'service.name': 'mcp-authz',
        'service.version': '0.1.0',
        'k8s.pod.name': 'mcp-7f9c-0',
        'k8s.namespace.name': 'tools',
        'k8s.node.name': 'node-a',
        'k8s.pod.uid': 'uid-123',
      });

      const [log] = receiver.logs();
      expect(log).toMatchObject({
        eventName: 'mcp_authz.audit',
        traceId: CALLER_TRACE_ID,
        spanId: decideSpan?.spanId,
        attributes: { log_type: 'audit', 'mcp_authz.decision': 'deny' },
        resource: { 'k8s.pod.name': 'mcp-7f9c-0' },
      });
      expect(JSON.parse(String(log?.body))).toMatchObject({ decision_id: 'd-1', trace_id: CALLER_TRACE_ID });
      expect(JSON.stringify(receiver.requests())).not.toContain('123-45-6789');

      const decisions = receiver.metrics().find((m) => m.name === 'mcp_authz_decisions_total');
      expect(decisions?.type).toBe('sum');
      expect(decisions?.dataPoints).toContainEqual({
        attributes: { result: 'deny', method: 'tools/call', tool: 'read_customer' },
        value: 1,
      });
      // The tallied histograms (tallied-histogram.ts) reach OTLP through the reader's own producer.
      const durations = receiver.metrics().find((m) => m.name === 'mcp_authz_request_duration_seconds');
      expect(durations?.type).toBe('histogram');
      expect(durations?.dataPoints).toHaveLength(1);
      const point = durations?.dataPoints[0];
      expect(point?.attributes).toEqual({ route: 'mcp' });
      const value = (point?.value ?? {}) as { count?: unknown; sum?: unknown };
      expect(Number(value.count)).toBe(1);
      expect(value.sum).toBe(0.012);
      expect(receiver.requests().every((r) => r.headers['x-collector-tenant'] === 'acme')).toBe(true);
      expect(new Set(receiver.requests().map((r) => r.headers['content-type']))).toEqual(
        new Set([contentType]),
      );
      expect(new Set(receiver.requests().map((r) => r.path))).toEqual(
        new Set(['/v1/traces', '/v1/logs', '/v1/metrics']),
      );
    },
  );

  it('sends gzip when OTEL_EXPORTER_OTLP_COMPRESSION=gzip', async () => {
    const t = await start({ OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_METRICS_EXPORTER: 'none' });
    t.tracer.startSpan('gz').end();
    await t.flush();
    expect(receiver.spans().map((s) => s.name)).toEqual(['gz']);
    expect(receiver.requests()[0]?.headers['content-encoding']).toBe('gzip');
  });

  it('reports warn while the collector rejects exports, and keeps serving /metrics', async () => {
    receiver.failWith(400);
    const t = await start({
      OTEL_BSP_SCHEDULE_DELAY: '20',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    });
    expect(t.status().state).toBe('ok');
    t.tracer.startSpan('rejected').end();
    await expect.poll(() => t.status().state, { timeout: 5_000 }).toBe('warn');
    expect(String(t.status().detail)).toMatch(/^traces export failed/);
    new SidecarMetrics(t).auditDropped();
    expect((await t.prometheus()).body).toContain('mcp_authz_audit_dropped_total 1');
  });

  it('exports nothing without an endpoint', async () => {
    const t = createTelemetry({ env: { ...K8S_ENV }, serviceVersion: '0.1.0', logger: silentLogger() });
    telemetry = t;
    await t.start();
    t.tracer.startSpan('nowhere').end();
    t.logs.emit({ body: 'nothing' });
    await t.stop();
    expect(receiver.requests()).toEqual([]);
  });
});
