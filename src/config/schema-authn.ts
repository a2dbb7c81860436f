/**
 * The `authn` section of the config schema: JWT verification, token introspection, API keys, RFC 9728
 * metadata and identity headers.
 *
 * @module
 */
import { z } from 'zod';
import { API_KEY_PREFIX_RE } from '../authn/api-key-format.js';
import * as D from './defaults.js';
import {
  anyHeaderName,
  headerName,
  httpUrl,
  httpUrlWithoutCredentialsFor,
  JwsAlgorithm,
  positiveMs,
  ScopeToken,
} from './schema-common.js';

const ClaimsSchema = z.strictObject({
  // Empty, it names no claim: every token would be refused for want of a subject.
  subject: z.string().min(1, 'must name a claim').default('sub').describe('Claim path of the subject id.'),
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
    .describe(
      'Accepted `iss` values. Required with `jwksUri`; empty (an HS secret only) accepts any issuer whose key verifies.',
    ),
  // jose's fetch refuses such a URL (every token needing a key a 503), and its error would name the password.
  jwksUri: httpUrlWithoutCredentialsFor('a JWKS is public: the issuer serves it without credentials')
    .optional()
    .describe("The issuer's JWKS URL."),
  audiences: z
    .array(z.string().min(1))
    .default([])
    .describe('Accepted `aud` values; empty means the resource identifier only (RFC 8707).'),
  algorithms: z
    .array(JwsAlgorithm)
    .min(1)
    .default([...D.JWT_ALGORITHMS])
    .describe(
      'Accepted signing algorithms; `none` is never accepted, HS* need a secret of at least 32 bytes.',
    ),
  hsSecretFile: z.string().min(1).optional().describe('File holding the HS* secret (≥ 32 bytes).'),
  clockToleranceSec: z
    .number()
    .int()
    .min(0)
    .max(D.MAX_CLOCK_TOLERANCE_SEC)
    .default(D.JWT_CLOCK_TOLERANCE_SEC)
    .describe('Allowed clock skew for exp/nbf/iat.'),
  maxTokenAgeSec: z
    .number()
    .int()
    .positive()
    .optional()
    .describe('Refuse tokens whose `iat` is older than this.'),
  // Off by default, as Envoy's max_lifetime. 24 h, the most Okta, Cognito and Entra let an access token live,
  // is exactly Auth0's default (it allows 30 days) and what Entra's managed identities get: a default there
  // would leave no margin, and an issuer set longer would find its callers refused only after an upgrade.
  maxLifetimeSec: z
    .number()
    .int()
    .positive()
    .optional()
    .describe(
      'Refuse access tokens (JWT or introspected) that live longer than this: `exp - iat` over it, or an `exp` further ahead than it plus the clock tolerance (the only bound on a token without `iat`); 401 naming this setting. Off when left out. Set it to the longest lifetime your issuer gives access tokens.',
    ),
  requiredScopes: z
    .array(ScopeToken)
    .default([])
    .describe(
      'Scopes every token must carry (403 insufficient_scope otherwise), each one OAuth scope token (no space: two scopes are two entries).',
    ),
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

const IntrospectionSchema = z
  .strictObject({
    // fetch refuses such a URL (every opaque token a 503), and its error names it, password included.
    endpoint: httpUrlWithoutCredentialsFor(
      'the client credentials are clientId and clientSecretFile',
    ).describe("The authorization server's RFC 7662 token introspection endpoint."),
    clientId: z
      .string()
      .min(1)
      .describe('Client id the sidecar authenticates to the endpoint with (HTTP Basic).'),
    clientSecretFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'File holding that client secret; AUTHZ_INTROSPECTION_CLIENT_SECRET works too. Re-read when it changes.',
      ),
    issuer: z.string().min(1).optional().describe('When set, an answer must name this `iss`.'),
    tokens: z
      .enum(['opaque', 'all'])
      .default('opaque')
      .describe(
        '`opaque`: only bearer tokens that are not JWTs are introspected (JWTs are verified against the JWKS when authn.jwt is on); `all`: every bearer token is.',
      ),
    timeoutMs: positiveMs
      .default(D.INTROSPECTION_TIMEOUT_MS)
      .describe('Timeout of one introspection request.'),
    cacheTtlMs: positiveMs
      .default(D.INTROSPECTION_CACHE_TTL_MS)
      .describe(
        "How long an active answer is reused (never past the token's `exp`): a token revoked at the authorization server is refused within this time (or at once when revoked here by `jti`).",
      ),
  })
  .describe(
    'OAuth 2.0 token introspection (RFC 7662) for opaque access tokens. An answer must be `active`, name this server among its `aud` (RFC 8707), not be expired, and not be a refresh token; its claims are mapped with authn.jwt.claims, and authn.jwt.requiredScopes apply. Off when left out.',
  );

const ApiKeysSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Accept API keys (needs a pepper).'),
  prefix: z
    .string()
    .regex(API_KEY_PREFIX_RE)
    .default(D.API_KEY_PREFIX)
    .describe('Prefix of API keys (`<prefix>_<id>_<secret>`).'),
  header: headerName
    .default(D.API_KEY_HEADER)
    .describe('Header that may carry an API key (besides `Authorization: Bearer`).'),
  pepperFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the HMAC pepper; AUTHZ_API_KEY_PEPPER works too.'),
});

const ResourceMetadataSchema = z.strictObject({
  authorizationServers: z
    .array(z.string().min(1))
    .default([])
    .describe('RFC 9728 authorization_servers; default: jwt.issuers.'),
  scopesSupported: z
    .array(ScopeToken)
    .default([])
    .describe('RFC 9728 scopes_supported; empty: authn.jwt.requiredScopes.'),
  resourceName: z.string().optional().describe('RFC 9728 resource_name.'),
  resourceDocumentation: httpUrl.optional().describe('RFC 9728 resource_documentation.'),
});

const IdentityHeadersSchema = z.strictObject({
  // A name that is no header name matches no header: the one meant would reach the upstream.
  strip: z
    .array(anyHeaderName)
    .default([...D.STRIPPED_IDENTITY_HEADERS])
    .describe('Client headers removed before forwarding (credentials and x-mcp-authz-* are always removed).'),
  subject: headerName
    .optional()
    .describe(
      'Header carrying the verified subject to the upstream (percent-encoded: `%`, `,` and non-visible-ASCII).',
    ),
  tenant: headerName
    .optional()
    .describe('Header carrying the verified tenant to the upstream (percent-encoded like the subject).'),
  roles: headerName
    .optional()
    .describe(
      'Header carrying the verified roles to the upstream: each percent-encoded, joined with commas.',
    ),
});

export const AuthnSchema = z.strictObject({
  mode: z
    .enum(['strict', 'optional'])
    .default('strict')
    .describe('Warning: optional lets anonymous callers through to the policy (subject.id is null).'),
  // Published in the metadata and sent verbatim by clients as the RFC 8707 `resource`: one with a fragment is no
  // resource identifier (RFC 8707 §2, RFC 9728 §1.2), which an authorization server refuses (invalid_target).
  resource: httpUrlWithoutCredentialsFor('it is published in the protected-resource metadata')
    .refine((u) => !u.includes('#'), {
      message: 'must not have a fragment (#…): a resource identifier has none (RFC 8707 §2, RFC 9728)',
    })
    .optional()
    .describe(
      "This server's resource identifier (RFC 8707; no fragment), e.g. https://mcp.example.com/mcp. Required when JWTs are verified (unless `authn.jwt.audiences` is set); otherwise derived from the request's Host and scheme for the metadata document (behind `server.trustProxyHops` trusted proxies, the scheme their `X-Forwarded-Proto` names).",
    ),
  jwt: JwtSchema.prefault({}),
  introspection: IntrospectionSchema.optional(),
  apiKeys: ApiKeysSchema.prefault({}),
  resourceMetadata: ResourceMetadataSchema.prefault({}),
  identityHeaders: IdentityHeadersSchema.prefault({}),
});
