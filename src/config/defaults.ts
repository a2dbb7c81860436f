/**
 * Named defaults for every setting. `test/unit/config/schema.test.ts` parses `{}` and pins each of them,
 * so a change here is a visible, reviewed change.
 *
 * @module
 */

/** Every interface, IPv6 and IPv4 (IPv4 only, `0.0.0.0`, on a host without IPv6). */
export const PUBLIC_HOST = '::';
export const PUBLIC_PORT = 8080;
export const ADMIN_HOST = '::';
export const ADMIN_PORT = 9090;
export const MCP_PATH = '/mcp';
export const LEGACY_SSE_PATH = '/sse';
export const LEGACY_MESSAGES_PATH = '/messages';
export const MAX_BODY_BYTES = 1_048_576;
/** `server.maxBufferedBodyBytes`: request bodies being read, all connections together (64 MiB). */
export const MAX_BUFFERED_BODY_BYTES = 64 * 1_048_576;
/** Header fields in one request (Envoy's `max_headers_count` default). */
export const MAX_REQUEST_HEADERS = 100;
export const MAX_BATCH_MESSAGES = 100;
export const SHUTDOWN_GRACE_MS = 10_000;
export const SHUTDOWN_DELAY_MS = 5_000;
export const STREAM_RECHECK_MS = 5_000;
export const SEND_TIMEOUT_MS = 60_000;
/** `server.headersTimeoutMs`: a request's line and header fields must be in within this (then 408). */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A request's head and body must be in within this of its start (Node answers 408); not configurable. */
export const REQUEST_TIMEOUT_MS = 30_000;
export const MAX_STREAMS_PER_CALLER = 32;
export const MAX_CONNECTIONS = 10_000;
/** Oldest TLS version the public listener accepts when `server.tls` is set. */
export const TLS_MIN_VERSION = 'TLSv1.2';
export const UNKNOWN_SESSIONS = 'reject';
/** The session table's bounds (mcp/session-owners.ts). */
export const MAX_TRACKED_SESSIONS = 100_000;
export const MAX_SESSIONS_PER_CALLER = 10_000;
export const UNKNOWN_TASKS = 'reject';
/** The task table's bounds (mcp/task-owners.ts). */
export const MAX_TRACKED_TASKS = 100_000;
export const MAX_TASKS_PER_CALLER = 1_000;
/** The longest a task stays bound to its caller, whatever lifetime the upstream granted (24 h). */
export const MAX_TASK_BINDING_MS = 86_400_000;

export const UPSTREAM_URL = 'http://127.0.0.1:8081';
export const UPSTREAM_CONNECT_TIMEOUT_MS = 2_000;
export const UPSTREAM_HEADERS_TIMEOUT_MS = 30_000;
export const UPSTREAM_BODY_TIMEOUT_MS = 30_000;
export const UPSTREAM_CONNECTIONS = 64;
/** POSTs and DELETEs that may wait for a free upstream connection before more get 503 (Envoy's default). */
export const UPSTREAM_MAX_PENDING_REQUESTS = 1024;
export const UPSTREAM_READINESS_CHECK_MS = 2_000;

export const POLICY_BUNDLE = 'build/policy/bundle';
export const POLICY_DECISION_ENTRYPOINT = 'mcp/authz/decision';
export const POLICY_VISIBLE_ENTRYPOINT = 'mcp/authz/visible';
/** `policy.maxBundleBytes`: a bundle's download and its tarball decompressed. */
export const POLICY_MAX_BUNDLE_BYTES = 16 * 1024 * 1024;
export const POLICY_POLL_INTERVAL_MS = 1_000;
export const POLICY_TIMEZONE = 'UTC';
export const POLICY_DECISION_CACHE_ENTRIES = 10_000;
/**
 * `policy.maxArgumentValues`: the most JSON values one call's arguments may hold. The wasm policy's heap
 * takes about 200 bytes a value, and keeps the most it ever held (10,000: about 2 MB).
 */
export const POLICY_MAX_ARGUMENT_VALUES = 10_000;
/** `policy.verification`: OPA's default signing algorithm and the key id `opa build --signing-key` writes. */
export const POLICY_VERIFICATION_ALGORITHM = 'RS256';
export const POLICY_VERIFICATION_KEY_ID = 'default';
export const ENVIRONMENT = 'prod';

export const JWT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'] as const;
export const JWT_CLOCK_TOLERANCE_SEC = 30;
/** The most clock skew `authn.jwt.clockToleranceSec` may allow (a token is accepted that long past its exp). */
export const MAX_CLOCK_TOLERANCE_SEC = 300;
export const JWT_TYPES = ['at+jwt', 'application/at+jwt', 'JWT'] as const;
export const JWKS_TIMEOUT_MS = 5_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_CACHE_MAX_AGE_MS = 600_000;
export const TOKEN_CACHE_MAX_ENTRIES = 10_000;
export const HS_SECRET_MIN_BYTES = 32;

export const API_KEY_PREFIX = 'mcpk';
export const API_KEY_HEADER = 'x-api-key';

export const STORE_KEY_PREFIX = 'mcp-authz:';
export const STORE_COMMAND_TIMEOUT_MS = 500;
export const REVOCATION_POLL_INTERVAL_MS = 500;

export const LOG_LEVEL = 'info';

/** Audit records queued before new ones are dropped, by count and by approximate size in bytes. */
export const AUDIT_MAX_BUFFERED = 10_000;
export const AUDIT_MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

/** Identity headers the sidecar always removes from client requests before forwarding. */
export const STRIPPED_IDENTITY_HEADERS = [
  'x-mcp-authz-subject',
  'x-mcp-authz-tenant',
  'x-mcp-authz-roles',
  'x-forwarded-user',
  'x-forwarded-email',
  'x-forwarded-groups',
  'x-auth-request-user',
  'x-auth-request-email',
  'x-user-id',
  'x-remote-user',
] as const;

export const RATELIMIT_FAILURE_MODE = 'local';
export const RATELIMIT_SCOPE = 'subject_tool';
/** The seeds' tiers: burst capacity and tokens per second, per role. */
export const RATELIMIT_TIERS = {
  guest: { capacity: 50, refillPerSecond: 1 },
  user: { capacity: 200, refillPerSecond: 5 },
  analyst: { capacity: 200, refillPerSecond: 5 },
  premium: { capacity: 1000, refillPerSecond: 20 },
  admin: { capacity: 5000, refillPerSecond: 100 },
} as const;
export const RATELIMIT_DEFAULT = { capacity: 10, refillPerSecond: 1 } as const;

export const ABUSE_POLL_INTERVAL_MS = 500;
export const ABUSE_RULES = [
  { name: 'tool-call-burst', kind: 'tool_calls', threshold: 100, windowSec: 300, action: 'alert' },
  {
    name: 'auth-failures-ip',
    kind: 'auth_failures_ip',
    threshold: 20,
    windowSec: 60,
    action: 'block',
    blockSec: 900,
  },
] as const;
/** Timeout of one RFC 7662 introspection request. */
export const INTROSPECTION_TIMEOUT_MS = 2_000;
/** How long an active introspection answer is reused (never past the token's exp). */
export const INTROSPECTION_CACHE_TTL_MS = 60_000;
