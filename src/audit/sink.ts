/**
 * The audit sink: takes records from the request path without ever blocking it. `write()` only appends to
 * a bounded in-memory queue; a `setImmediate` drain (a batch per turn of the event loop) writes each record
 * as one JSON line on the process log's destination (`"log_type":"audit"`, `time` = the decision time) and
 * emits it as an OpenTelemetry log record whose body is the record as JSON text (the same object as the
 * stdout line; a map body costs four times as much to export — bench/RESULTS.md) and whose trace context is
 * the record's `trace_id` / `span_id`, so a collector links the two. When the queue is full the record is dropped and
 * `onDrop` is called (the `mcp_authz_audit_dropped_total` counter).
 *
 * @module
 */
import { ROOT_CONTEXT, TraceFlags, trace } from '@opentelemetry/api';
import { type AnyValueMap, type Logger as OtelLogger, SeverityNumber } from '@opentelemetry/api-logs';
import { pino } from 'pino';
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
import type { AuditRecord } from './record.js';

/** Records written per drain turn before yielding to I/O. */
export const AUDIT_DRAIN_BATCH = 256;
/** Default queue bound. */
export const AUDIT_MAX_BUFFERED = 10_000;
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
  /** Called once per dropped record. */
  readonly onDrop?: () => void;
}

export interface AuditSinkComponent extends AuditSink, Component {
  readonly buffered: number;
  readonly dropped: number;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * A pino logger on the same destination whose `time` is the record's own (no duplicate key). It has no
 * `redact`: a record has a fixed shape, its arguments are masked and its obligations scrubbed of
 * secret-named fields when it is built (record.ts), and the generic redaction cost ~3× the line.
 */
function auditLineLogger(logger: Logger): Logger {
  const stream = Reflect.get(logger, pino.symbols.streamSym) as pino.DestinationStream | undefined;
  const opts: pino.LoggerOptions = {
    level: 'info',
    base: logger.bindings(),
    timestamp: false,
    formatters: { level: (label) => ({ level: label }) },
  };
  return stream ? pino(opts, stream) : pino(opts);
}

function emitOtel(otel: OtelLogger, r: AuditRecord): void {
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
    body: JSON.stringify(r),
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
  const lines = opts.logger.isLevelEnabled('info') ? auditLineLogger(opts.logger) : undefined;
  const errors = opts.logger.child({ component: 'audit' });
  let queue: AuditRecord[] = [];
  let head = 0;
  let scheduled = false;
  let dropped = 0;
  let failures = 0;

  const writeOne = (r: AuditRecord): void => {
    try {
      if (lines) {
        const { time, ...rest } = r;
        lines.info({ time, log_type: 'audit', ...rest }, 'audit');
      }
      emitOtel(opts.otelLogs, r);
    } catch (err) {
      failures++;
      if (failures === 1 || failures % 1000 === 0) {
        errors.error({ err, failures }, 'audit record could not be written');
      }
    }
  };

  const drain = (max: number): void => {
    scheduled = false;
    let n = 0;
    while (head < queue.length && n < max) {
      writeOne(queue[head] as AuditRecord);
      queue[head] = undefined as unknown as AuditRecord;
      head++;
      n++;
    }
    if (head >= queue.length) {
      queue = [];
      head = 0;
    } else {
      if (head > 4096) {
        queue = queue.slice(head);
        head = 0;
      }
      schedule();
    }
  };

  function schedule(): void {
    if (scheduled) return;
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
    write(record) {
      if (queue.length - head >= maxBuffered) {
        dropped++;
        try {
          opts.onDrop?.();
        } catch {
          // a counter must not break the request path
        }
        return;
      }
      queue.push(record);
      schedule();
    },
    async flush() {
      drain(Number.POSITIVE_INFINITY);
    },
    async start() {},
    async stop() {
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
