import { EventEmitter } from 'node:events';
import { createNoopLogger, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createAuditListener } from '../../../src/audit/listener.js';
import { type AuditRecord, auditRecordSize, buildAuditRecord } from '../../../src/audit/record.js';
import { AUDIT_EVENT_NAME, createAuditSink } from '../../../src/audit/sink.js';
import { ANONYMOUS } from '../../../src/authn/principal.js';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision, RequestContext } from '../../../src/pipeline/context.js';
import { createLogger } from '../../../src/telemetry/logger.js';
import { lineCollector } from '../../helpers/log-lines.js';

const KEY = Buffer.alloc(32, 5);
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';

function record(i: number, over: Partial<AuditRecord> = {}): AuditRecord {
  return {
    ...buildAuditRecord(
      {
        decisionId: `d-${i}`,
        time: new Date(Date.UTC(2026, 10, 23, 10, 0, 0, i)),
        traceId: TRACE_ID,
        spanId: SPAN_ID,
        requestId: `r-${i}`,
        principal: ANONYMOUS,
        action: classify('tools/call', i, { name: 'read_customer', arguments: { password: 'hunter2' } }),
        decision: {
          allow: false,
          reasons: ['no'],
          obligations: {},
          sensitivity: undefined,
          revision: 'rev-1',
          evalNs: 1,
        },
        clientIp: '10.0.0.1',
        sessionId: null,
        transport: 'streamable-http',
      },
      { arguments: 'plain', maskArguments: [], key: KEY },
    ),
    ...over,
  };
}

function capture(level = 'info') {
  const raw: string[] = [];
  const logger = createLogger(level, lineCollector(raw));
  return { logger, raw, lines: () => raw.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function otel() {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
  return { exporter, provider, logger: provider.getLogger('test') };
}

const tick = () => new Promise((r) => setImmediate(r));
const providers: LoggerProvider[] = [];
afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.shutdown()));
});

describe('createAuditSink', () => {
  it('writes one JSON line per record, after the current turn, with the record time as the line time', async () => {
    const out = capture();
    const sink = createAuditSink({ logger: out.logger, otelLogs: createNoopLogger() });
    sink.write(record(1));
    sink.write(record(2));
    expect(out.raw).toHaveLength(0);
    expect(sink.buffered).toBe(2);
    await tick();
    expect(out.raw).toHaveLength(2);
    const [first] = out.lines();
    expect(first).toMatchObject({
      level: 'info',
      service: 'mcp-authz',
      log_type: 'audit',
      msg: 'audit',
      time: '2026-11-23T10:00:00.001Z',
      decision_id: 'd-1',
      decision: 'deny',
      action: { method: 'tools/call', tool: 'read_customer' },
    });
    expect(out.raw[0]?.match(/"time":/g)).toHaveLength(1);
    expect(out.raw.join('')).not.toContain('hunter2');
    expect(sink.buffered).toBe(0);
  });

  it("writes a turn's lines in one write to the destination, each a whole JSON line", async () => {
    const writes: string[] = [];
    const logger = createLogger('info', { write: (s: string) => void writes.push(s) });
    const sink = createAuditSink({ logger, otelLogs: createNoopLogger() });
    for (let i = 0; i < 3; i++) sink.write(record(i));
    await tick();
    expect(writes).toHaveLength(1);
    const lines = (writes[0] ?? '').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines.map((l) => (JSON.parse(l) as { decision_id: string }).decision_id)).toEqual([
      'd-0',
      'd-1',
      'd-2',
    ]);
  });

  it('drops and counts records beyond maxBuffered, never blocking the writer', async () => {
    const out = capture();
    let drops = 0;
    const sink = createAuditSink({
      logger: out.logger,
      otelLogs: createNoopLogger(),
      maxBuffered: 3,
      onDrop: () => {
        drops++;
      },
    });
    for (let i = 0; i < 5; i++) sink.write(record(i));
    expect(drops).toBe(2);
    expect(sink.dropped).toBe(2);
    await sink.flush();
    expect(out.lines().map((l) => l.decision_id)).toEqual(['d-0', 'd-1', 'd-2']);
    sink.write(record(9));
    await tick();
    expect(out.raw).toHaveLength(4);
    expect(sink.status()).toMatchObject({ state: 'ok', dropped: 2, buffered: 0 });
  });

  it('bounds the queue by the records approximate size too: large records are dropped and counted', async () => {
    const out = capture();
    const small = record(0);
    const big = buildAuditRecord(
      {
        decisionId: 'd-big',
        time: new Date(),
        requestId: 'r-big',
        principal: ANONYMOUS,
        action: classify('tools/call', 1, {
          name: 'read_customer',
          arguments: { rows: Array.from({ length: 1000 }, () => 'x'.repeat(100)) },
        }),
        decision: {
          allow: false,
          reasons: ['no'],
          obligations: {},
          sensitivity: undefined,
          revision: null,
          evalNs: 1,
        },
        clientIp: '10.0.0.1',
        sessionId: null,
        transport: 'streamable-http',
      },
      { arguments: 'plain', maskArguments: [], key: KEY },
    );
    const bigSize = auditRecordSize(big);
    // The masked arguments' budget (8 kB of text) is what the estimate counts, not the 100 kB sent.
    expect(bigSize).toBeGreaterThan(8_000);
    expect(bigSize).toBeLessThan(12_000);
    expect(bigSize).toBeGreaterThan(JSON.stringify(big).length - 1_500);
    expect(auditRecordSize(small)).toBeLessThan(1_200);
    let drops = 0;
    const sink = createAuditSink({
      logger: out.logger,
      otelLogs: createNoopLogger(),
      maxBufferedBytes: 2 * bigSize + 2_000,
      onDrop: () => {
        drops++;
      },
    });
    sink.write(big);
    sink.write(big);
    sink.write(big);
    expect(drops).toBe(1);
    expect(sink.bufferedBytes).toBe(2 * bigSize);
    // Small records still fit beside them.
    sink.write(small);
    expect(drops).toBe(1);
    await sink.flush();
    expect(sink.bufferedBytes).toBe(0);
    expect(out.lines()).toHaveLength(3);
  });

  it('takes a record larger than the byte bound when the queue is empty: every decision keeps its record', async () => {
    const out = capture();
    let drops = 0;
    const sink = createAuditSink({
      logger: out.logger,
      otelLogs: createNoopLogger(),
      maxBufferedBytes: 1,
      onDrop: () => {
        drops++;
      },
    });
    sink.write(record(1));
    expect(drops).toBe(0);
    // Only a queue already holding one is full.
    sink.write(record(2));
    expect(drops).toBe(1);
    await sink.flush();
    expect(out.lines().map((l) => l.decision_id)).toEqual(['d-1']);
    sink.write(record(3));
    await sink.flush();
    expect(drops).toBe(1);
    expect(out.lines().map((l) => l.decision_id)).toEqual(['d-1', 'd-3']);
  });

  it('waits for a destination that cannot keep up, keeping records in its bounded queue', async () => {
    const written: string[] = [];
    // A destination over its high-water mark until it says `drain`, like a stdout read slowly.
    const slow = Object.assign(new EventEmitter(), {
      write(s: string) {
        written.push(s);
        return false;
      },
    });
    let drops = 0;
    const sink = createAuditSink({
      logger: createLogger('info', slow),
      otelLogs: createNoopLogger(),
      maxBuffered: 2,
      onDrop: () => {
        drops++;
      },
    });
    sink.write(record(1));
    await tick();
    expect(written).toHaveLength(1);
    for (let i = 2; i <= 5; i++) sink.write(record(i));
    await tick();
    // Nothing more is written until the destination drains; what does not fit in the queue is dropped.
    expect(written).toHaveLength(1);
    expect(sink.buffered).toBe(2);
    expect(drops).toBe(2);
    slow.emit('drain');
    await tick();
    expect(written).toHaveLength(2);
    expect(written[1]).toContain('"decision_id":"d-2"');
    expect(written[1]).toContain('"decision_id":"d-3"');
    expect(sink.buffered).toBe(0);
  });

  it('drains large backlogs in batches across turns of the event loop', async () => {
    const out = capture();
    const sink = createAuditSink({ logger: out.logger, otelLogs: createNoopLogger(), maxBuffered: 2_000 });
    for (let i = 0; i < 600; i++) sink.write(record(i));
    await tick();
    expect(out.raw.length).toBeGreaterThan(0);
    expect(out.raw.length).toBeLessThan(600);
    await sink.stop();
    expect(out.raw).toHaveLength(600);
  });

  it('emits an OpenTelemetry log record with the record as JSON text body and its trace context', async () => {
    const o = otel();
    providers.push(o.provider);
    const sink = createAuditSink({ logger: capture().logger, otelLogs: o.logger });
    sink.write(record(1, { deny_reason: 'policy' }));
    sink.write(record(2, { trace_id: null, span_id: null }));
    sink.write(record(3, { trace_sampled: false }));
    await sink.flush();
    const [linked, unlinked, unsampled] = o.exporter.getFinishedLogRecords();
    // The flags are the trace's own: a caller's unsampled trace is not claimed as sampled.
    expect(linked?.spanContext?.traceFlags).toBe(1);
    expect(unsampled?.spanContext).toMatchObject({ traceId: TRACE_ID, traceFlags: 0 });
    expect(linked?.eventName).toBe(AUDIT_EVENT_NAME);
    expect(linked?.severityText).toBe('INFO');
    expect(linked?.spanContext).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID });
    expect(linked?.attributes).toMatchObject({
      log_type: 'audit',
      'mcp_authz.decision': 'deny',
      'mcp_authz.decision.id': 'd-1',
      'mcp_authz.deny.reason': 'policy',
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'read_customer',
      'mcp_authz.policy.revision': 'rev-1',
    });
    expect(typeof linked?.body).toBe('string');
    expect(JSON.parse(String(linked?.body))).toMatchObject({ decision_id: 'd-1', deny_reason: 'policy' });
    expect(linked?.hrTime[0]).toBe(Date.UTC(2026, 10, 23, 10, 0, 0) / 1000);
    expect(unlinked?.spanContext).toBeUndefined();
  });

  it('still emits to OpenTelemetry when the process log level hides info', async () => {
    const out = capture('warn');
    const o = otel();
    providers.push(o.provider);
    const sink = createAuditSink({ logger: out.logger, otelLogs: o.logger });
    sink.write(record(1));
    await sink.flush();
    expect(out.raw).toHaveLength(0);
    expect(o.exporter.getFinishedLogRecords()).toHaveLength(1);
  });

  it('survives a failing OpenTelemetry logger and reports it', async () => {
    const out = capture();
    const broken: OtelLogger = {
      emit() {
        throw new Error('boom');
      },
      enabled: () => true,
    };
    const sink = createAuditSink({ logger: out.logger, otelLogs: broken });
    expect(() => sink.write(record(1))).not.toThrow();
    await sink.flush();
    expect(sink.status()).toMatchObject({ state: 'ok', detail: '1 records could not be written' });
    expect(out.lines().some((l) => l.msg === 'audit record could not be written')).toBe(true);
    // Only the OTLP copy is lost: the stdout line is written.
    expect(out.lines().filter((l) => l.msg === 'audit' && l.decision_id === 'd-1')).toHaveLength(1);
  });

  it('routes its lines as info lines through a destination that routes by level (pino multistream)', async () => {
    const info: string[] = [];
    const errors: string[] = [];
    const streams = pino.multistream([
      { level: 'info', stream: lineCollector(info) },
      { level: 'error', stream: lineCollector(errors) },
    ]);
    const logger = createLogger('info', streams);
    logger.error('something failed');
    const sink = createAuditSink({ logger, otelLogs: createNoopLogger() });
    sink.write(record(1));
    await sink.flush();
    expect(info.filter((l) => l.includes('"msg":"audit"'))).toHaveLength(1);
    expect(errors.filter((l) => l.includes('"msg":"audit"'))).toHaveLength(0);
  });

  it('counts every record of a batch its destination refused, and keeps going', async () => {
    const errors: string[] = [];
    let refuse = true;
    const logger = createLogger('info', {
      write(s: string) {
        if (refuse && s.includes('"log_type":"audit"')) throw new Error('EPIPE');
        errors.push(s);
      },
    });
    const sink = createAuditSink({ logger, otelLogs: createNoopLogger() });
    sink.write(record(1));
    sink.write(record(2));
    await tick();
    expect(sink.status()).toMatchObject({ detail: '2 records could not be written' });
    expect(errors.some((l) => l.includes('audit record could not be written'))).toBe(true);
    refuse = false;
    sink.write(record(3));
    await tick();
    expect(errors.filter((l) => l.includes('"decision_id":"d-3"'))).toHaveLength(1);
  });

  it('reports the records it could not write to onDrop too (the audit-drop counter alerts watch)', async () => {
    // A destination that throws (stdout's pipe gone) lost records that only the status detail counted:
    // mcp_authz_audit_dropped_total, "any drop is a gap in the audit trail", stayed at 0.
    let refuse = true;
    const logger = createLogger('info', {
      write(s: string) {
        if (refuse && s.includes('"log_type":"audit"')) throw new Error('EPIPE');
      },
    });
    const drops: number[] = [];
    const broken: OtelLogger = {
      emit() {
        throw new Error('boom');
      },
      enabled: () => true,
    };
    const sink = createAuditSink({ logger, otelLogs: broken, onDrop: (n = 1) => void drops.push(n) });
    sink.write(record(1));
    sink.write(record(2));
    await tick();
    // Each record's OTLP copy, then both stdout lines of the batch.
    expect(drops.reduce((a, b) => a + b, 0)).toBe(4);
    refuse = false;
    drops.length = 0;
    const ok = createAuditSink({
      logger,
      otelLogs: createNoopLogger(),
      onDrop: (n = 1) => void drops.push(n),
    });
    ok.write(record(3));
    await tick();
    expect(drops).toEqual([]);
  });

  it('checks maxBuffered', () => {
    expect(() =>
      createAuditSink({ logger: capture().logger, otelLogs: createNoopLogger(), maxBuffered: 0 }),
    ).toThrow(TypeError);
  });

  it('checks maxBufferedBytes', () => {
    expect(() =>
      createAuditSink({ logger: capture().logger, otelLogs: createNoopLogger(), maxBufferedBytes: 0.5 }),
    ).toThrow(TypeError);
  });
});

describe('createAuditListener', () => {
  it('turns a finished request decision into one record through the sink', async () => {
    const out = capture();
    const sink = createAuditSink({ logger: out.logger, otelLogs: createNoopLogger() });
    const listener = createAuditListener({
      sink,
      masking: { arguments: 'hash', maskArguments: [], key: KEY },
      // sampled: false must reach the record (the trace's spans are recorded nowhere).
      traceIds: () => ({ traceId: TRACE_ID, spanId: SPAN_ID, sampled: false }),
      hrtime: () => 3_500_000n,
    });
    const ctx = {
      requestId: 'r-7',
      transport: 'streamable-http',
      clientIp: '10.0.0.9',
      startedAt: 1_000_000n,
      now: new Date('2026-11-23T10:00:00.000Z'),
      decisions: [],
      upstreamStatus: 200,
      facts: { sessionId: 's-1' },
    } as unknown as RequestContext;
    const m: MessageDecision = {
      index: 0,
      decisionId: 'd-7',
      action: classify('tools/call', 1, { name: 'read_customer', arguments: { id: 'c-1' } }),
      decision: {
        allow: true,
        reasons: [],
        obligations: {},
        sensitivity: undefined,
        revision: 'rev-1',
        evalNs: 2_000,
      },
      rateLimit: { limit: 5, remaining: 4, retryAfterMs: 0, allowed: true },
    };
    listener.decision(ctx, m);
    await sink.flush();
    const [line] = out.lines();
    expect(line).toMatchObject({
      decision_id: 'd-7',
      request_id: 'r-7',
      time: '2026-11-23T10:00:00.000Z',
      trace_id: TRACE_ID,
      span_id: SPAN_ID,
      trace_sampled: false,
      subject: { id: null, auth_method: 'anonymous' },
      decision: 'allow',
      rate_limit: { limit: 5, remaining: 4, retry_after_ms: 0, allowed: true },
      latency: { eval_us: 2, total_ms: 2.5 },
      upstream: { status: 200 },
      session_id: 's-1',
    });
    expect(JSON.stringify(line)).not.toContain('c-1');
  });

  it("shares one argument budget among a batch's records: 100 calls of 256 values hash 1,024, not 25,600", async () => {
    const out = capture();
    const sink = createAuditSink({ logger: out.logger, otelLogs: createNoopLogger() });
    const listener = createAuditListener({
      sink,
      masking: { arguments: 'hash', maskArguments: [], key: KEY },
    });
    const ctx = (requestId: string, decidedAt: string) =>
      ({
        requestId,
        transport: 'streamable-http',
        clientIp: '10.0.0.9',
        startedAt: 0n,
        now: new Date('2026-11-23T17:59:59.000Z'),
        decisions: [],
        facts: { sessionId: null, now: new Date(decidedAt) },
      }) as unknown as RequestContext;
    const call = (i: number): MessageDecision => ({
      index: i,
      decisionId: `d-${i}`,
      action: classify('tools/call', i, {
        name: 'delete_customer',
        arguments: { v: new Array(256).fill(0) },
      }),
      decision: {
        allow: false,
        reasons: ['no'],
        obligations: {},
        sensitivity: undefined,
        revision: 'r',
        evalNs: 1,
      },
    });
    const batch = ctx('r-batch', '2026-11-23T18:00:01.000Z');
    for (let i = 0; i < 100; i++) listener.decision(batch, call(i));
    // Another request has a budget of its own.
    listener.decision(ctx('r-next', '2026-11-23T18:00:02.000Z'), call(100));
    await sink.flush();
    const lines = out.lines();
    expect(lines).toHaveLength(101);
    const hashed = (l: Record<string, unknown>) => (JSON.stringify(l).match(/hmac-sha256:/g) ?? []).length;
    const batchLines = lines.filter((l) => l.request_id === 'r-batch');
    expect(batchLines.reduce((n, l) => n + hashed(l), 0)).toBe(1_024);
    expect(hashed(batchLines[0] as Record<string, unknown>)).toBe(256);
    expect(hashed(batchLines[99] as Record<string, unknown>)).toBe(0);
    expect(JSON.stringify(batchLines[99])).toContain('[truncated');
    expect(hashed(lines.find((l) => l.request_id === 'r-next') as Record<string, unknown>)).toBe(256);
    // The record's time is the time the call was decided (the policy's context.time), not the headers'.
    expect(batchLines[0]?.time).toBe('2026-11-23T18:00:01.000Z');
  });
});
