/**
 * The audit trail: one masked record per decision (`record.ts`, documented in `docs/audit.md`), argument
 * masking (`mask.ts`) and the non-blocking sink to stdout and OpenTelemetry logs (`sink.ts`).
 *
 * @module
 */

export { isSensitiveKey } from './credential-keys.js';
export { type AuditListenerOptions, createAuditListener } from './listener.js';
export {
  type ArgumentsMode,
  type AuditArgumentOptions,
  auditArguments,
  deriveAuditKey,
  HMAC_TAG_PREFIX,
  hmacTag,
  type MaskMode,
  maskArguments,
  REDACTED,
} from './mask.js';
export {
  AUDIT_SCHEMA_VERSION,
  type AuditInput,
  type AuditMasking,
  type AuditRecord,
  auditRecordSize,
  buildAuditRecord,
} from './record.js';
export {
  AUDIT_EVENT_NAME,
  AUDIT_MAX_BUFFERED,
  AUDIT_MAX_BUFFERED_BYTES,
  type AuditSink,
  type AuditSinkComponent,
  type AuditSinkOptions,
  createAuditSink,
} from './sink.js';
