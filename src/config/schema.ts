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

export const SUPPORTED_PROTOCOL_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'] as const;

const ServerSchema = z.strictObject({
  host: z.string().min(1).default(D.PUBLIC_HOST),
  port: port.default(D.PUBLIC_PORT),
  mcpPath: z.string().startsWith('/').default(D.MCP_PATH),
  legacySsePath: z.string().startsWith('/').default(D.LEGACY_SSE_PATH),
  legacyMessagesPath: z.string().startsWith('/').default(D.LEGACY_MESSAGES_PATH),
  maxBodyBytes: z.number().int().positive().default(D.MAX_BODY_BYTES),
  shutdownGraceMs: positiveMs.default(D.SHUTDOWN_GRACE_MS),
  allowedOrigins: z
    .array(z.string().min(1))
    .default([])
    .describe('Origins allowed when a request carries `Origin`; empty allows only requests without Origin.'),
  protocolVersions: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/))
    .default([...SUPPORTED_PROTOCOL_VERSIONS]),
  trustProxyHops: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('How many X-Forwarded-For hops to trust for the client IP. Warning: >0 lets callers set it.'),
});

const AdminSchema = z.strictObject({
  host: z.string().min(1).default(D.ADMIN_HOST),
  port: port.default(D.ADMIN_PORT),
});

const UpstreamSchema = z.strictObject({
  url: httpUrl.default(D.UPSTREAM_URL),
  connectTimeoutMs: positiveMs.default(D.UPSTREAM_CONNECT_TIMEOUT_MS),
  headersTimeoutMs: positiveMs.default(D.UPSTREAM_HEADERS_TIMEOUT_MS),
  connections: z.number().int().positive().default(D.UPSTREAM_CONNECTIONS),
});

const PolicySchema = z.strictObject({
  bundle: z
    .string()
    .min(1)
    .default(D.POLICY_BUNDLE)
    .describe('A bundle folder (.manifest, data.json, policy.wasm), a .tar.gz file, or an http(s) URL.'),
  watch: z.boolean().default(true),
  pollIntervalMs: positiveMs.default(D.POLICY_POLL_INTERVAL_MS),
  decisionEntrypoint: z.string().min(1).default(D.POLICY_DECISION_ENTRYPOINT),
  visibleEntrypoint: z.string().min(1).default(D.POLICY_VISIBLE_ENTRYPOINT),
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
  subject: z.string().default('sub'),
  tenant: z.string().default('tenant'),
  roles: z.string().default('roles').describe('Dotted path, e.g. realm_access.roles or cognito:groups.'),
  scopes: z.string().default('scope').describe('A space-separated string (scope) or an array (scp).'),
  clearance: z.string().default('clearance'),
});

const JwksSchema = z.strictObject({
  timeoutMs: positiveMs.default(D.JWKS_TIMEOUT_MS),
  cooldownMs: positiveMs.default(D.JWKS_COOLDOWN_MS),
  cacheMaxAgeMs: positiveMs.default(D.JWKS_CACHE_MAX_AGE_MS),
});

const JwtSchema = z.strictObject({
  enabled: z.boolean().default(true),
  issuers: z.array(z.string().min(1)).default([]),
  jwksUri: httpUrl.optional(),
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
    .default([...D.JWT_ALGORITHMS]),
  hsSecretFile: z.string().optional().describe('File holding the HS* secret (≥ 32 bytes).'),
  clockToleranceSec: z.number().int().min(0).max(300).default(D.JWT_CLOCK_TOLERANCE_SEC),
  maxTokenAgeSec: z.number().int().positive().optional(),
  requiredScopes: z.array(z.string().min(1)).default([]),
  types: z
    .array(z.string().min(1))
    .default([...D.JWT_TYPES])
    .describe('Accepted `typ` header values (case-insensitive); a missing typ is accepted.'),
  claims: ClaimsSchema.prefault({}),
  jwks: JwksSchema.prefault({}),
  cacheMaxEntries: z.number().int().min(0).default(D.TOKEN_CACHE_MAX_ENTRIES),
});

const ApiKeysSchema = z.strictObject({
  enabled: z.boolean().default(true),
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9]{1,15}$/)
    .default(D.API_KEY_PREFIX),
  header: z.string().toLowerCase().default(D.API_KEY_HEADER),
  pepperFile: z.string().optional().describe('File holding the HMAC pepper; AUTHZ_API_KEY_PEPPER works too.'),
});

const ResourceMetadataSchema = z.strictObject({
  authorizationServers: z.array(z.string().min(1)).default([]),
  scopesSupported: z.array(z.string()).default([]),
  resourceName: z.string().optional(),
  resourceDocumentation: httpUrl.optional(),
});

const IdentityHeadersSchema = z.strictObject({
  strip: z.array(z.string().toLowerCase()).default([...D.STRIPPED_IDENTITY_HEADERS]),
  subject: z
    .string()
    .toLowerCase()
    .optional()
    .describe('Header carrying the verified subject to the upstream.'),
  tenant: z.string().toLowerCase().optional(),
  roles: z.string().toLowerCase().optional(),
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
  passwordFile: z.string().optional(),
  keyPrefix: z.string().default(D.STORE_KEY_PREFIX),
  commandTimeoutMs: positiveMs.default(D.STORE_COMMAND_TIMEOUT_MS),
  revocationPollIntervalMs: positiveMs.default(D.REVOCATION_POLL_INTERVAL_MS),
});

const LogSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default(D.LOG_LEVEL),
});

export const ConfigSchema = z.strictObject({
  server: ServerSchema.prefault({}),
  admin: AdminSchema.prefault({}),
  upstream: UpstreamSchema.prefault({}),
  policy: PolicySchema.prefault({}),
  authn: AuthnSchema.prefault({}),
  store: StoreSchema.prefault({}),
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
