/**
 * Abuse detection: rules over sliding windows, trips, and blocks enforced by every replica.
 *
 * @module
 */
export {
  ABUSE_FLUSH_INTERVAL_MS,
  ABUSE_POLL_INTERVAL_MS,
  type AbuseDetectorOptions,
  createAbuseDetector,
} from './detector.js';
export { MAX_PENDING_TARGETS } from './pending-counts.js';
export { AbuseRuleSchema, AbuseRulesSchema, DEFAULT_BLOCK_SEC, globToRegExp } from './rules.js';
export {
  ANY_TENANT,
  anyTenantBlockValue,
  normalizeIp,
  parseSubjectArg,
  subjectBlockValue,
} from './targets.js';
export type {
  AbuseDetector,
  AbuseDetectorStats,
  AbuseEvent,
  AbuseRule,
  BlockEntry,
} from './types.js';
