/**
 * The observability sections of the config schema (`schema.ts`): the audit trail, telemetry and the process
 * log. OpenTelemetry exporters themselves are configured with the standard `OTEL_*` variables.
 *
 * @module
 */
import { z } from 'zod';
import * as D from './defaults.js';

export const AuditSchema = z.strictObject({
  arguments: z
    .enum(['hash', 'plain', 'drop'])
    .default('hash')
    .describe(
      'Tool arguments in audit records: keyed hashes of the values, the values, or nothing. Warning: plain records argument values.',
    ),
  maskArguments: z
    .array(z.string().min(1))
    .default([])
    .describe("Argument names always masked, on top of the policy's mask_arguments obligation."),
  maxBuffered: z
    .number()
    .int()
    .positive()
    .default(D.AUDIT_MAX_BUFFERED)
    .describe('Audit records queued before new ones are dropped (and counted).'),
  maxBufferedBytes: z
    .number()
    .int()
    .min(1024)
    .default(D.AUDIT_MAX_BUFFERED_BYTES)
    .describe(
      "Approximate size in bytes of the queued audit records before new ones are dropped (and counted): a slow stdout must not hold them all. A record's arguments take at most ~16 kB.",
    ),
});

export const TelemetrySchema = z.strictObject({
  subject: z
    .enum(['id', 'hash', 'none'])
    .default('hash')
    .describe(
      'How spans name the caller (mcp_authz.subject): the subject id, a keyed hash of it, or not at all.',
    ),
  traceContext: z
    .enum(['parent', 'link'])
    .default('parent')
    .describe(
      "What a caller's W3C trace context (the traceparent header, or a message's params._meta) is to the sidecar's spans: `parent`, their parent (the sidecar's spans join the caller's trace, and audit records carry its trace id); `link`, a span link only: each request starts a trace of its own, sampled by the sidecar's sampler. Warning: with parent a caller picks the trace id of its audit records and, under the default parentbased sampler, whether its requests are traced at all (a traceparent ending in -00); use link where callers are not trusted.",
    ),
  stageMetrics: z
    .boolean()
    .default(false)
    .describe(
      'Record mcp_authz_stage_duration_seconds for every stage of every request (a few µs per stage); spans of the authenticate, ratelimit, forward and filter stages and one per decision are recorded whenever traces are exported.',
    ),
});

export const LogSchema = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default(D.LOG_LEVEL)
    .describe('Log level of the process log (audit records are info).'),
});
