/**
 * The first audit API, kept so `app.ts` works unchanged until it wires `createAuditListener` with a
 * configured sink: records now have the documented schema (`record.ts`, `docs/audit.md`) and go through
 * the non-blocking sink, with arguments left out (as before) and no OpenTelemetry export.
 *
 * @deprecated Use `createAuditListener` + `createAuditSink` (see `src/audit/index.ts`).
 * @module
 */
import { createNoopLogger } from '@opentelemetry/api-logs';
import type { PipelineEvents } from '../pipeline/events.js';
import type { Logger } from '../telemetry/logger.js';
import { createAuditListener } from './listener.js';
import { createAuditSink } from './sink.js';

/** @deprecated Use `createAuditListener({ sink: createAuditSink(…), masking })`. */
export function createAuditLog(logger: Logger): Pick<PipelineEvents, 'decision'> {
  return createAuditListener({
    sink: createAuditSink({ logger, otelLogs: createNoopLogger() }),
    masking: { arguments: 'drop', maskArguments: [], key: Buffer.alloc(32) },
  });
}
