/**
 * Tests of the benchmark receiver's record counting (bench/otlp-count.ts) on bodies made by
 * OpenTelemetry's own OTLP serializers, protobuf and JSON: the counts are the spans, server spans and log
 * records that went in.
 *
 * @module
 */
import { SpanKind } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  JsonLogsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { countRecords } from '../../../bench/otlp-count.js';

function spans() {
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer(
    't',
  );
  for (let i = 0; i < 7; i++) {
    const kind = i < 3 ? SpanKind.SERVER : SpanKind.INTERNAL;
    tracer.startSpan(`s${i}`, { kind, attributes: { 'mcp.method.name': 'tools/call', n: i } }).end();
  }
  return exporter.getFinishedSpans();
}

/** Log records as the SDK hands them to an exporter (what the audit sink emits: a JSON text body). */
function logs(): ReadableLogRecord[] {
  const resource = resourceFromAttributes({ 'service.name': 'mcp-authz' });
  return Array.from({ length: 5 }, (_, i) => ({
    hrTime: [1_764_840_000, i] as [number, number],
    hrTimeObserved: [1_764_840_000, i] as [number, number],
    eventName: 'mcp_authz.audit',
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: `{"decision_id":"d-${i}"}`,
    attributes: { log_type: 'audit' },
    droppedAttributesCount: 0,
    resource,
    instrumentationScope: { name: 'mcp-authz' },
  }));
}

describe('countRecords', () => {
  it('counts spans and server spans in protobuf and JSON', () => {
    const s = spans();
    const proto = Buffer.from(ProtobufTraceSerializer.serializeRequest(s) as Uint8Array);
    const json = Buffer.from(JsonTraceSerializer.serializeRequest(s) as Uint8Array);
    expect(countRecords('traces', proto, 'application/x-protobuf')).toEqual({ records: 7, serverSpans: 3 });
    expect(countRecords('traces', json, 'application/json')).toEqual({ records: 7, serverSpans: 3 });
  });

  it('counts log records in protobuf and JSON', () => {
    const l = logs();
    const proto = Buffer.from(ProtobufLogsSerializer.serializeRequest(l) as Uint8Array);
    const json = Buffer.from(JsonLogsSerializer.serializeRequest(l) as Uint8Array);
    expect(countRecords('logs', proto, 'application/x-protobuf')).toEqual({ records: 5, serverSpans: 0 });
    expect(countRecords('logs', json, 'application/json')).toEqual({ records: 5, serverSpans: 0 });
  });

  it('refuses a truncated protobuf body', () => {
    const proto = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans()) as Uint8Array);
    expect(() => countRecords('traces', proto.subarray(0, 1), 'application/x-protobuf')).toThrow();
  });
});
