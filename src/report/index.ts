/**
 * The security report: counters recorded off the request path, the report built from them, its text
 * form and the admin route.
 *
 * @module
 */
export {
  type BuildReportOptions,
  buildReport,
  REPORT_MAX_ANOMALIES,
  REPORT_TOP,
  type SecurityReport,
} from './build.js';
export {
  createSecurityCounters,
  FIELD,
  hourOf,
  MAX_PENDING_ANOMALIES,
  MAX_PENDING_FIELDS,
  NONE,
  SECURITY_FLUSH_INTERVAL_MS,
  type SecurityCounters,
  type SecurityCountersOptions,
  type SecurityCountersStats,
} from './counters.js';
export { formatReport } from './format.js';
export { type RouteResponse, reportRoute } from './route.js';
export { DEFAULT_SINCE, parseSince } from './since.js';
