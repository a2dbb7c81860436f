/**
 * The audit sink: takes records from the request path without ever blocking it. `write()` only appends to
 * a bounded in-memory queue; a `setImmediate` drain (a batch per turn of the event loop) writes each record
 * as one JSON line on the process log's destination (`"log_type":"audit"`, `time` = the decision time; a
 * turn's lines in one write, and no more writes while the destination asks to wait for its `drain`) and
 * emits it as an OpenTelemetry log record whose body is the record as JSON text (the same object as the
 * stdout line; a map body costs four times as much to export — bench/RESULTS.md) and whose trace context is
 * the record's `trace_id` / `span_id`, so a collector links the two. When the queue is full (by count, or by the
 * records' approximate size) the record is dropped and `onDrop` is called (the `mcp_authz_audit_dropped_total`
 * counter), as it is for a stdout line or OTLP copy that could not be written.
 *
 * @module
 */
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { type AnyValueMap, type Logger as OtelLogger, SeverityNumber } from '@opentelemetry/api-logs';
import { pino } from 'pino';
import { AUDIT_MAX_BUFFERED, AUDIT_MAX_BUFFERED_BYTES } from '../config/defaults.js';
import type { Component, ComponentStatus } from '../lifecycle.js';
import type { Logger } from '../telemetry/logger.js';
import {
  ATTR_AUTHZ_DECISION,
  ATTR_AUTHZ_DECISION_ID,
  ATTR_AUTHZ_DENY_REASON,
  ATTR_AUTHZ_POLICY_REVISION,
  ATTR_GEN_AI_TOOL_NAME,
  ATTR_LOG_TYPE,
  ATTR_MCP_METHOD_NAME,
} from '../telemetry/semconv.js';
import { type AuditRecord, auditRecordSize } from './record.js';

export { AUDIT_MAX_BUFFERED, AUDIT_MAX_BUFFERED_BYTES };

/** Records written per drain turn before yielding to I/O. */
export const AUDIT_DRAIN_BATCH = 256;
export const AUDIT_EVENT_NAME = 'mcp_authz.audit';

export interface AuditSink {
  /** Queues one record; never blocks, never throws. */
  write(record: AuditRecord): void;
  /** Writes everything queued now. */
  flush(): Promise<void>;
}

export interface AuditSinkOptions {
  /** The process logger; audit lines go to its destination, at `info`. */
  readonly logger: Logger;
  /** Where OpenTelemetry log records go (`telemetry.logs`; a no-op logger when OTLP logs are off). */
  readonly otelLogs: OtelLogger;
  readonly maxBuffered?: number;
  /** Bound on the queued records' approximate size in bytes: a slow stdout must not hold them all. */
  readonly maxBufferedBytes?: number;
  /** Called with the count of records lost: dropped when full, or a stdout line or OTLP copy not written. */
  readonly onDrop?: (records?: number) => void;
}

export interface AuditSinkComponent extends AuditSink, Component {
  readonly buffered: number;
  /** The queued records' approximate size in bytes. */
  readonly bufferedBytes: number;
  readonly dropped: number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * The start of every audit line on the process log's destination: the `level` label and bindings pino
 * would write (`service`, …), then `log_type` and `msg`; the record's own fields follow, `time` among them.
 * Lines are written as JSON text, not through pino: a record has a fixed, acyclic shape, its arguments are
 * masked and its obligations scrubbed of credential-named keys when it is built (record.ts), so pino's
 * safe serialiser and redaction (three times the line's cost) buy nothing; and the same text is the OTLP
 * body.
 */
function linePrefix(logger: Logger): string {
  return `${JSON.stringify({ level: 'info', ...logger.bindings(), log_type: 'audit', msg: 'audit' }).slice(0, -1)},`;
}

interface LineWriter {
  readonly prefix: string;
  /** False when the destination asks the writer to wait for its `drain` (its buffer is over the mark). */
  write(text: string): boolean;
  /** Calls `f` once the destination has drained (at once if it cannot tell). */
  onceDrained(f: () => void): void;
}

/**
 * Writes audit lines, as info lines, on the process logger's destination (pino's own stdout destination if
 * it has none). A destination that routes by level (pino's multistream) is told the level pino would have
 * told it.
 */
function lineWriter(logger: Logger): LineWriter {
  const stream = (Reflect.get(logger, pino.symbols.streamSym) ??
    pino.destination(1)) as pino.DestinationStream & Record<string | symbol, unknown>;
  const needsMetadata = stream[pino.symbols.needsMetadataGsym] === true;
  const info = logger.levels.values.info ?? 30;
  return {
    prefix: linePrefix(logger),
    write(text) {
      if (needsMetadata) {
        stream.lastLevel = info;
        stream.lastMsg = 'audit';
        stream.lastObj = {};
        stream.lastLogger = logger;
      }
      // pino types `write` as void; sonic-boom and Node streams return whether to go on.
      return (stream.write as (text: string) => unknown)(text) !== false;
    },
    onceDrained(f) {
      if (typeof stream.once === 'function') (stream.once as (e: string, f: () => void) => void)('drain', f);
      else f();
    },
  };
}

function emitOtel(otel: OtelLogger, r: AuditRecord, json: string): void {
  const attributes: AnyValueMap = {
    [ATTR_LOG_TYPE]: 'audit',
    [ATTR_AUTHZ_DECISION]: r.decision,
    [ATTR_AUTHZ_DECISION_ID]: r.decision_id,
    [ATTR_MCP_METHOD_NAME]: r.action.method,
  };
  if (r.deny_reason) attributes[ATTR_AUTHZ_DENY_REASON] = r.deny_reason;
  if (r.action.tool) attributes[ATTR_GEN_AI_TOOL_NAME] = r.action.tool;
  if (r.policy_revision) attributes[ATTR_AUTHZ_POLICY_REVISION] = r.policy_revision;
  const linked = r.trace_id && r.span_id && TRACE_ID.test(r.trace_id) && SPAN_ID.test(r.span_id);
  otel.emit({
    eventName: AUDIT_EVENT_NAME,
    timestamp: new Date(r.time),
    severityNumber: SeverityNumber.INFO,
    severityText: 'INFO',
    body: json,
    attributes,
    ...(linked
      ? {
          context: trace.setSpanContext(ROOT_CONTEXT, {
            traceId: r.trace_id as string,
            spanId: r.span_id as string,
            traceFlags: r.trace_sampled === false ? TraceFlags.NONE : TraceFlags.SAMPLED,
            isRemote: false,
          }),
        }
      : {}),
  });
}

export function createAuditSink(opts: AuditSinkOptions): AuditSinkComponent {
  const maxBuffered = opts.maxBuffered ?? AUDIT_MAX_BUFFERED;
  if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
    throw new TypeError("'maxBuffered' must be a positive integer");
  }
  const maxBytes = opts.maxBufferedBytes ?? AUDIT_MAX_BUFFERED_BYTES;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) {
    throw new TypeError("'maxBufferedBytes' must be a positive integer");
  }
  /** The queued records' {@link auditRecordSize}s, summed. */
  let bytes = 0;
  const lines = opts.logger.isLevelEnabled('info') ? lineWriter(opts.logger) : undefined;
  const errors = opts.logger.child({ component: 'audit' });
  let queue: AuditRecord[] = [];
  /** Each queued record's {@link auditRecordSize}, by queue index (weighed once, when written). */
  let sizes: number[] = [];
  let head = 0;
  let scheduled = false;
  /** Waiting for the destination's `drain`: nothing more is written until it comes. */
  let waiting = false;
  let stopping = false;
  let dropped = 0;
  let failures = 0;

  const dropping = (records: number): void => {
    try {
      opts.onDrop?.(records);
    } catch {} // a counter must not break the request path
  };

  const failed = (err: unknown, records: number): void => {
    const before = failures;
    failures += records;
    // A record not written is as lost as one the full queue dropped: the drop counter is what alerts watch.
    dropping(records);
    if (before === 0 || Math.floor(before / 1000) !== Math.floor(failures / 1000)) {
      try {
        errors.error({ err, failures }, 'audit record could not be written');
      } catch {
        // the log's own destination is what failed: the count in status() still says so
      }
    }
  };

  /** Emits `r` over OTLP and returns its stdout line ('' when lines are off or it cannot be serialised). */
  const writeOne = (r: AuditRecord): string => {
    let json: string;
    try {
      json = JSON.stringify(r);
    } catch (err) {
      failed(err, 1);
      return '';
    }
    try {
      emitOtel(opts.otelLogs, r, json);
    } catch (err) {
      // The OTLP copy is lost; the stdout line is still written.
      failed(err, 1);
    }
    return lines ? `${lines.prefix}${json.slice(1)}\n` : '';
  };

  /** Writes up to `max` queued records: their lines in one write to the destination. */
  const drain = (max: number): void => {
    scheduled = false;
    let n = 0;
    let text = '';
    while (head < queue.length && n < max) {
      bytes -= sizes[head] as number;
      text += writeOne(queue[head] as AuditRecord);
      queue[head] = undefined as unknown as AuditRecord;
      head++;
      n++;
    }
    if (lines && text !== '') {
      try {
        // A destination that cannot keep up (stdout read slowly) leaves the records in the bounded queue,
        // where they are dropped and counted when it is full, not in the stream's unbounded buffer.
        if (!lines.write(text) && !stopping) {
          waiting = true;
          lines.onceDrained(() => {
            waiting = false;
            if (head < queue.length) schedule();
          });
        }
      } catch (err) {
        failed(err, text.split('\n').length - 1);
      }
    }
    if (head >= queue.length) {
      queue = [];
      sizes = [];
      head = 0;
      bytes = 0;
    } else {
      if (head > 4096) {
        queue = queue.slice(head);
        sizes = sizes.slice(head);
        head = 0;
      }
      schedule();
    }
  };

  function schedule(): void {
    if (scheduled || waiting) return;
    scheduled = true;
    setImmediate(drain, AUDIT_DRAIN_BATCH);
  }

  return {
    name: 'audit',
    get buffered() {
      return queue.length - head;
    },
    get dropped() {
      return dropped;
    },
    get bufferedBytes() {
      return bytes;
    },
    write(record) {
      const size = auditRecordSize(record);
      // The first record is always taken, however large: only a queue already holding some is full.
      if (queue.length - head >= maxBuffered || (bytes > 0 && bytes + size > maxBytes)) {
        dropped++;
        dropping(1);
        return;
      }
      queue.push(record);
      sizes.push(size);
      bytes += size;
      schedule();
    },
    async flush() {
      drain(Number.POSITIVE_INFINITY);
    },
    async start() {},
    async stop() {
      stopping = true;
      drain(Number.POSITIVE_INFINITY);
    },
    status(): ComponentStatus {
      // Dropping records is reported (counter, detail) but never makes the pod unready.
      return {
        state: 'ok',
        buffered: queue.length - head,
        dropped,
        ...(failures > 0 ? { detail: `${failures} records could not be written` } : {}),
      };
    },
  };
}
