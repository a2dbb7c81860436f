/**
 * Rate limiting: token buckets in the store with a local fast path and a failure mode, bucket keys by
 * scope, and the IETF rate-limit response headers.
 *
 * @module
 */
export {
  createRateLimiter,
  FAST_PATH_MAX_ENTRIES,
  PROBE_INTERVAL_MS,
  type RateLimiterOptions,
} from './create-limiter.js';
export { DEFAULT_POLICY_NAME, rateLimitHeaders, retryAfterSeconds } from './headers.js';
export { BUCKET_SCOPES, type BucketScope, bucketKey } from './keys.js';
export {
  type BucketSpec,
  RateLimitBackendError,
  type RateLimiter,
  type RateLimiterStats,
  type RateLimitFailureMode,
  type TakeResult,
} from './types.js';
