/**
 * The one schema for every setting (STYLE R2). The YAML file and the `AUTHZ_*` environment overrides are
 * merged and parsed through `ConfigSchema`; what comes out is the typed, frozen `Config` the rest of the
 * sidecar reads. Settings that weaken security say so in a `Warning:` description.
 *
 * @module
 */
import { z } from 'zod';
import * as D from './defaults.js';

const port = z.number().int().min(0).max(65_535);
const positiveMs = z.number().int().positive();
const httpUrl = z.url({ protocol: /^https?$/ });

export const SUPPORTED_PROTOCOL_VERSIONS = [
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
  '2026-07-28',
] as const;

const ServerSchema = z.strictObject({
  host: z
    .string()
    .min(1)
    .default(D.PUBLIC_HOST)
    .describe("Interface of the public listener (the pod's public port)."),
  port: port.default(D.PUBLIC_PORT).describe('Port of the public listener; 0 picks a free port.'),
  mcpPath: z
    .string()
    .startsWith('/')
    .default(D.MCP_PATH)
    .describe('Path of the Streamable HTTP MCP endpoint.'),
  legacySsePath: z
    .string()
    .startsWith('/')
    .default(D.LEGACY_SSE_PATH)
    .describe('Path of the legacy HTTP+SSE stream (GET), here and on the upstream.'),
  legacyMessagesPath: z
    .string()
    .startsWith('/')
    .default(D.LEGACY_MESSAGES_PATH)
    .describe('Path where legacy SSE clients POST messages (the rewritten `endpoint` event).'),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(D.MAX_BODY_BYTES)
    .describe('Largest accepted request body; larger bodies get 413.'),
  shutdownGraceMs: positiveMs
    .default(D.SHUTDOWN_GRACE_MS)
    .describe('On SIGTERM, how long in-flight requests may take before connections are cut.'),
  allowedOrigins: z
    .array(z.string().min(1))
    .default([])
    .describe('Origins allowed when a request carries `Origin`; empty allows only requests without Origin.'),
  protocolVersions: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/))
    .default([...SUPPORTED_PROTOCOL_VERSIONS])
    .describe('Accepted `MCP-Protocol-Version` header values; others get 400.'),
  trustProxyHops: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('How many X-Forwarded-For hops to trust for the client IP. Warning: >0 lets callers set it.'),
});

const AdminSchema = z.strictObject({
  reportTokenFile: z
    .string()
    .optional()
    .describe(
      'File holding the bearer token for GET /report on the admin port; unset disables the endpoint.',
    ),
  host: z
    .string()
    .min(1)
    .default(D.ADMIN_HOST)
    .describe('Interface of the admin listener (health, readiness, metrics).'),
  port: port.default(D.ADMIN_PORT).describe('Port of the admin listener; must differ from server.port.'),
});

const UpstreamSchema = z.strictObject({
  url: httpUrl
    .default(D.UPSTREAM_URL)
    .describe("The MCP server's Streamable HTTP endpoint inside the pod, e.g. http://127.0.0.1:8081/mcp."),
  connectTimeoutMs: positiveMs
    .default(D.UPSTREAM_CONNECT_TIMEOUT_MS)
    .describe('Connect timeout to the upstream (502 when exceeded).'),
  headersTimeoutMs: positiveMs
    .default(D.UPSTREAM_HEADERS_TIMEOUT_MS)
    .describe(
      'Time the upstream has to send response headers (504 when exceeded); streams then have no timeout.',
    ),
  connections: z
    .number()
    .int()
    .positive()
    .default(D.UPSTREAM_CONNECTIONS)
    .describe('Keep-alive connection pool size to the upstream.'),
});

const PolicySchema = z.strictObject({
  bundle: z
    .string()
    .min(1)
    .default(D.POLICY_BUNDLE)
    .describe('A bundle folder (.manifest, data.json, policy.wasm), a .tar.gz file, or an http(s) URL.'),
  watch: z.boolean().default(true).describe('Poll the bundle location and hot-reload changed bundles.'),
  pollIntervalMs: positiveMs
    .default(D.POLICY_POLL_INTERVAL_MS)
    .describe('How often the bundle location is checked for changes.'),
  decisionEntrypoint: z
    .string()
    .min(1)
    .default(D.POLICY_DECISION_ENTRYPOINT)
    .describe('Entrypoint deciding one JSON-RPC request.'),
  visibleEntrypoint: z
    .string()
    .min(1)
    .default(D.POLICY_VISIBLE_ENTRYPOINT)
    .describe('Entrypoint deciding whether a list item is shown.'),
  timezone: z
    .string()
    .default(D.POLICY_TIMEZONE)
    .refine((tz) => isTimeZone(tz), 'unknown IANA time zone')
    .describe('Time zone for context.hour / context.weekday.'),
  environment: z
    .string()
    .min(1)
    .default(D.ENVIRONMENT)
    .describe('Passed to the policy as context.environment.'),
});

const ClaimsSchema = z.strictObject({
  subject: z.string().default('sub').describe('Claim path of the subject id.'),
  tenant: z.string().default('tenant').describe('Claim path of the tenant.'),
  roles: z.string().default('roles').describe('Dotted path, e.g. realm_access.roles or cognito:groups.'),
  scopes: z.string().default('scope').describe('A space-separated string (scope) or an array (scp).'),
  clearance: z.string().default('clearance').describe('Claim path of the clearance level.'),
});

const JwksSchema = z.strictObject({
  timeoutMs: positiveMs.default(D.JWKS_TIMEOUT_MS).describe('JWKS fetch timeout.'),
  cooldownMs: positiveMs
    .default(D.JWKS_COOLDOWN_MS)
    .describe('Minimum time between JWKS refetches for unknown `kid`s.'),
  cacheMaxAgeMs: positiveMs.default(D.JWKS_CACHE_MAX_AGE_MS).describe('Maximum age of the cached JWKS.'),
});

const JwtSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Accept JWT bearer tokens.'),
  issuers: z
    .array(z.string().min(1))
    .default([])
    .describe('Accepted `iss` values; empty accepts any issuer whose key verifies.'),
  jwksUri: httpUrl.optional().describe("The issuer's JWKS URL."),
  audiences: z
    .array(z.string().min(1))
    .default([])
    .describe('Accepted `aud` values; empty means the resource identifier only (RFC 8707).'),
  algorithms: z
    .array(
      z.enum([
        'RS256',
        'RS384',
        'RS512',
        'PS256',
        'PS384',
        'PS512',
        'ES256',
        'ES384',
        'ES512',
        'EdDSA',
        'HS256',
        'HS384',
        'HS512',
      ]),
    )
    .min(1)
    .default([...D.JWT_ALGORITHMS])
    .describe(
      'Accepted signing algorithms; `none` is never accepted, HS* need a secret of at least 32 bytes.',
    ),
  hsSecretFile: z.string().optional().describe('File holding the HS* secret (≥ 32 bytes).'),
  clockToleranceSec: z
    .number()
    .int()
    .min(0)
    .max(300)
    .default(D.JWT_CLOCK_TOLERANCE_SEC)
    .describe('Allowed clock skew for exp/nbf/iat.'),
  maxTokenAgeSec: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Refuse tokens whose `iat` is older than this.'),
  requiredScopes: z
    .array(z.string().min(1))
    .default([])
    .describe('Scopes every token must carry (403 insufficient_scope otherwise).'),
  types: z
    .array(z.string().min(1))
    .default([...D.JWT_TYPES])
    .describe('Accepted `typ` header values (case-insensitive); a missing typ is accepted.'),
  claims: ClaimsSchema.prefault({}),
  jwks: JwksSchema.prefault({}),
  cacheMaxEntries: z
    .number()
    .int()
    .min(0)
    .default(D.TOKEN_CACHE_MAX_ENTRIES)
    .describe('Verified-token cache size (keyed by token hash, never past exp); 0 disables it.'),
});

const ApiKeysSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Accept API keys (needs a pepper).'),
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,15}$/)
    .default(D.API_KEY_PREFIX)
    .describe('Prefix of API keys (`<prefix>_<id>_<secret>`).'),
  header: z
    .string()
    .toLowerCase()
    .default(D.API_KEY_HEADER)
    .describe('Header that may carry an API key (besides `Authorization: Bearer`).'),
  pepperFile: z.string().optional().describe('File holding the HMAC pepper; AUTHZ_API_KEY_PEPPER works too.'),
});

const ResourceMetadataSchema = z.strictObject({
  authorizationServers: z
    .array(z.string().min(1))
    .default([])
    .describe('RFC 9728 authorization_servers; default: jwt.issuers.'),
  scopesSupported: z.array(z.string()).default([]).describe('RFC 9728 scopes_supported.'),
  resourceName: z.string().optional().describe('RFC 9728 resource_name.'),
  resourceDocumentation: httpUrl.optional().describe('RFC 9728 resource_documentation.'),
});

const IdentityHeadersSchema = z.strictObject({
  strip: z
    .array(z.string().toLowerCase())
    .default([...D.STRIPPED_IDENTITY_HEADERS])
    .describe('Client headers removed before forwarding (credentials and x-mcp-authz-* are always removed).'),
  subject: z
    .string()
    .toLowerCase()
    .optional()
    .describe('Header carrying the verified subject to the upstream.'),
  tenant: z
    .string()
    .toLowerCase()
    .optional()
    .describe('Header carrying the verified tenant to the upstream.'),
  roles: z
    .string()
    .toLowerCase()
    .optional()
    .describe('Header carrying the verified roles (comma-separated) to the upstream.'),
});

const AuthnSchema = z.strictObject({
  mode: z
    .enum(['strict', 'optional'])
    .default('strict')
    .describe('Warning: optional lets anonymous callers through to the policy (subject.id is null).'),
  resource: httpUrl
    .optional()
    .describe(
      "This server's resource identifier (RFC 8707), e.g. https://mcp.example.com/mcp. Default: derived from the request.",
    ),
  jwt: JwtSchema.prefault({}),
  apiKeys: ApiKeysSchema.prefault({}),
  resourceMetadata: ResourceMetadataSchema.prefault({}),
  identityHeaders: IdentityHeadersSchema.prefault({}),
});

const StoreSchema = z.strictObject({
  redisUrl: z
    .string()
    .regex(
      /^(rediss?|redis\+sentinel|redis\+cluster):\/\//,
      'must start with redis://, rediss://, redis+sentinel:// or redis+cluster://',
    )
    .optional()
    .describe('Unset: in-memory store (single process).'),
  passwordFile: z
    .string()
    .optional()
    .describe('File holding the Redis password (AUTHZ_REDIS_PASSWORD works too).'),
  keyPrefix: z.string().default(D.STORE_KEY_PREFIX).describe('Prefix of every Redis key.'),
  commandTimeoutMs: positiveMs.default(D.STORE_COMMAND_TIMEOUT_MS).describe('Timeout of each Redis command.'),
  revocationPollIntervalMs: positiveMs
    .default(D.REVOCATION_POLL_INTERVAL_MS)
    .describe('How often replicas pick up revocations from the store.'),
});

const BucketSchema = z.strictObject({
  capacity: z.number().positive().describe('Burst size: tokens in a full bucket.'),
  refillPerSecond: z.number().positive().describe('Tokens added per second.'),
});

const RateLimitSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Apply token buckets to every JSON-RPC request.'),
  failureMode: z
    .enum(['local', 'open', 'closed'])
    .default(D.RATELIMIT_FAILURE_MODE)
    .describe(
      'While Redis is unreachable: local = in-process buckets, closed = refuse with 503. Warning: open lets every request through unlimited.',
    ),
  scope: z
    .enum(['subject', 'subject_tool', 'tenant'])
    .default(D.RATELIMIT_SCOPE)
    .describe('What one bucket counts: a subject, a subject on one tool, or a whole tenant.'),
  tiers: z
    .record(z.string(), BucketSchema)
    .default(
      structuredClone(D.RATELIMIT_TIERS) as Record<string, { capacity: number; refillPerSecond: number }>,
    )
    .describe(
      "Per-role buckets used when the policy's decision has no rate_limit obligation (the most generous role wins).",
    ),
  default: BucketSchema.prefault({ ...D.RATELIMIT_DEFAULT }).describe(
    'Bucket for callers with no obligation and no tier.',
  ),
  fastPath: z
    .boolean()
    .default(true)
    .describe('Refuse callers known to be empty locally, without asking Redis.'),
});

const AbuseRuleSchema = z.strictObject({
  name: z.string().min(1),
  kind: z.enum(['tool_calls', 'auth_failures_subject', 'auth_failures_ip']),
  tool: z.string().optional().describe('Glob of tool names (tool_calls rules).'),
  threshold: z
    .number()
    .int()
    .positive()
    .describe('The rule trips when the count in the window exceeds this.'),
  windowSec: z.number().int().positive(),
  action: z.enum(['alert', 'block']),
  blockSec: z.number().int().positive().optional(),
});

const AbuseSchema = z.strictObject({
  rules: z
    .array(AbuseRuleSchema)
    .default(structuredClone(D.ABUSE_RULES) as unknown as z.infer<typeof AbuseRuleSchema>[])
    .describe('Sliding-window rules; a tripped rule is audited, counted and may block the subject or IP.'),
  pollIntervalMs: positiveMs.default(D.ABUSE_POLL_INTERVAL_MS).describe('How often replicas pick up blocks.'),
});

const AuditSchema = z.strictObject({
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
    .default(10_000)
    .describe('Audit records queued before new ones are dropped (and counted).'),
});

const TelemetrySchema = z.strictObject({
  subject: z
    .enum(['id', 'hash', 'none'])
    .default('hash')
    .describe(
      'How spans name the caller (mcp_authz.subject): the subject id, a keyed hash of it, or not at all.',
    ),
  stageMetrics: z
    .boolean()
    .default(false)
    .describe(
      'Record mcp_authz_stage_duration_seconds for every stage of every request (a few µs per stage); stage spans are recorded whenever traces are exported.',
    ),
});

const LogSchema = z.strictObject({
  level: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default(D.LOG_LEVEL)
    .describe('Log level of the process log (audit records are info).'),
});

export const ConfigSchema = z.strictObject({
  server: ServerSchema.prefault({}),
  admin: AdminSchema.prefault({}),
  upstream: UpstreamSchema.prefault({}),
  policy: PolicySchema.prefault({}),
  authn: AuthnSchema.prefault({}),
  store: StoreSchema.prefault({}),
  ratelimit: RateLimitSchema.prefault({}),
  abuse: AbuseSchema.prefault({}),
  audit: AuditSchema.prefault({}),
  telemetry: TelemetrySchema.prefault({}).describe(
    'Exporters are configured with the standard OTEL_* variables.',
  ),
  log: LogSchema.prefault({}),
});

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
