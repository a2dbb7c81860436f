/**
 * The one schema for every setting (STYLE R2). The YAML file and the `AUTHZ_*` environment overrides are
 * merged and parsed through `ConfigSchema`; what comes out is the typed, frozen `Config` the rest of the
 * sidecar reads. Settings that weaken security say so in a `Warning:` description.
 *
 * @module
 */
import { z } from 'zod';
import * as D from './defaults.js';
import { AuthnSchema } from './schema-authn.js';
import { httpUrlWithoutCredentials, msOrOff, port, positiveMs } from './schema-common.js';
import { AbuseSchema, RateLimitSchema } from './schema-limits.js';
import { AuditSchema, LogSchema, TelemetrySchema } from './schema-observability.js';
import { ServerSchema } from './schema-server.js';
import { BundleVerificationSchema } from './schema-verification.js';

const AdminSchema = z.strictObject({
  reportTokenFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      'File holding the bearer token for GET /report on the admin port; unset disables the endpoint.',
    ),
  host: z
    .string()
    .min(1)
    .default(D.ADMIN_HOST)
    .describe(
      'Interface of the admin listener (health, readiness, metrics); "::" (the default) and 0.0.0.0 as for server.host.',
    ),
  port: port.default(D.ADMIN_PORT).describe('Port of the admin listener; must differ from server.port.'),
});

const UpstreamSchema = z.strictObject({
  url: httpUrlWithoutCredentials
    .refine(
      (u) => {
        if (!URL.canParse(u)) return true;
        const url = new URL(u);
        return url.search === '' && url.hash === '';
      },
      {
        message:
          "must not hold a query or fragment: requests go to its path with the client's own query, so these would be dropped",
      },
    )
    .default(D.UPSTREAM_URL)
    .describe(
      "The MCP server's Streamable HTTP endpoint inside the pod, e.g. http://127.0.0.1:8081/mcp, on a port other than the sidecar's own; a URL without a path, or with `/` (the default has none), forwards to `server.mcpPath` on the upstream. No user or password (none is sent), no query or fragment (requests carry the client's query).",
    ),
  connectTimeoutMs: positiveMs
    .default(D.UPSTREAM_CONNECT_TIMEOUT_MS)
    .describe('Connect timeout to the upstream (502 when exceeded).'),
  headersTimeoutMs: positiveMs
    .default(D.UPSTREAM_HEADERS_TIMEOUT_MS)
    .describe(
      'Time the upstream has to send response headers (504 when exceeded); streams then have no timeout.',
    ),
  bodyTimeoutMs: msOrOff
    .default(D.UPSTREAM_BODY_TIMEOUT_MS)
    .describe(
      'Longest pause in the body of a reply that is no event stream (JSON): then 504 if nothing went to the client yet, else the reply is cut, and the upstream connection is freed. Event streams may stay idle. 0 turns it off.',
    ),
  connections: z
    .number()
    .int()
    .positive()
    .default(D.UPSTREAM_CONNECTIONS)
    .describe(
      'Keep-alive connection pool size to the upstream for POST and DELETE; GET event streams get connections of their own, without a cap.',
    ),
  maxPendingRequests: z
    .number()
    .int()
    .min(0)
    .default(D.UPSTREAM_MAX_PENDING_REQUESTS)
    .describe(
      'POST and DELETE requests that may wait for a free pooled connection while all are busy; more are answered 503 ERR_UPSTREAM_BUSY at once (a circuit breaker: a stalled MCP server no longer collects an unbounded queue). 0: none waits.',
    ),
  readinessCheckMs: msOrOff
    .default(D.UPSTREAM_READINESS_CHECK_MS)
    .describe(
      "How often /readyz's upstream component connects to the MCP server's port: the pod is not ready while it does not accept connections (it is the pod's own container, so only this pod leaves the Service). 0 turns the check off.",
    ),
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
  decisionCache: z
    .strictObject({
      enabled: z
        .boolean()
        .default(true)
        .describe(
          'Reuse a result for an input seen before (all of it but context.time and context.request_id). ' +
            'Bypassed for a policy that names either field or calls rand.intn, and turned off for a ' +
            'revision whose result changes when they do (every miss is checked with both changed).',
        ),
      maxEntries: z
        .int()
        .min(1)
        .default(D.POLICY_DECISION_CACHE_ENTRIES)
        .describe('Results kept per revision (decisions and list visibility each); the oldest go first.'),
    })
    .prefault({})
    .describe('Cache of policy results per bundle revision, emptied by every reload.'),
  verification: BundleVerificationSchema,
  maxArgumentValues: z
    .int()
    .min(1)
    .max(1_000_000)
    .default(D.POLICY_MAX_ARGUMENT_VALUES)
    .describe(
      "The most JSON values (each array element, object member and the containers themselves) the arguments of one `tools/call` or `prompts/get` may hold; a call with more is refused before the policy (Invalid params, -32602). The wasm policy's memory grows by about 200 bytes a value for the largest input it was ever given and does not shrink: 10,000 values take about 2 MB, the 500,000 small values a 1 MiB body can carry about 100 MB.",
    ),
  maxBundleBytes: z
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(D.POLICY_MAX_BUNDLE_BYTES)
    .describe(
      'Largest bundle accepted: its download and its tarball decompressed (16 MiB). Loading takes about 20 times its data.json in memory, and a bundle server replaying an old signature with a huge data.json makes the sidecar parse it all before the mismatch shows: keep this within what the memory limit allows.',
    ),
  persistDir: z
    .string()
    .min(1)
    .optional()
    .describe(
      "Folder where each bundle loaded from a bundle URL is kept (OPA's bundle `persist`): a sidecar that starts while the URL fails, or serves a bundle that does not load, starts on the kept copy (checked again, signature included) instead of denying every call. Only for an http(s) `bundle`; in Kubernetes an emptyDir, which outlives container restarts. A folder of its own (created 0700 in a parent that must exist): none is kept in one that another user owns or any user may write to (a host's shared /tmp itself).",
    ),
  bundleTokenFile: z
    .string()
    .min(1)
    .optional()
    .describe(
      "File holding a bearer token sent as `Authorization: Bearer …` with every request for a bundle URL (OPA's `credentials.bearer.token_path`); AUTHZ_BUNDLE_TOKEN works too. Re-read when the file changes.",
    ),
  dryRun: z
    .boolean()
    .default(false)
    .describe(
      "Decide and record every request but enforce nothing the policy says (OPA-Envoy's dry-run, for rolling out a policy): requests it denies are forwarded all the same, with `enforced: false` in their audit records, and list replies are not pruned. Authentication, sessions, rate limits and abuse blocks still apply. Logged as a warning at start.",
    ),
});
const StoreSchema = z.strictObject({
  redisUrl: z
    .string()
    .regex(
      /^(rediss?|redis\+sentinel|redis\+cluster):\/\//,
      'must start with redis://, rediss://, redis+sentinel:// or redis+cluster://',
    )
    .optional()
    .describe(
      'Unset: in-memory store (single process). `redis://[:password@]host[:port][/db]`, `rediss://` (TLS), `redis+sentinel://host1,host2/mastername[/db]` (the sentinels get the password and TLS of the master, not its username), `redis+cluster://host1,host2`; the only query parameter read is `tls`, `true` or `false` (any other parameter or value is refused).',
    ),
  passwordFile: z
    .string()
    .min(1)
    .optional()
    .describe('File holding the Redis password (AUTHZ_REDIS_PASSWORD works too).'),
  keyPrefix: z
    .string()
    .regex(
      /^[^{}]*$/,
      'must not contain { or }: Redis Cluster would hash keys by them, splitting multi-key scripts',
    )
    .default(D.STORE_KEY_PREFIX)
    .describe('Prefix of every Redis key (no { or }: every key carries the {authz} hash tag after it).'),
  commandTimeoutMs: positiveMs.default(D.STORE_COMMAND_TIMEOUT_MS).describe('Timeout of each Redis command.'),
  revocationPollIntervalMs: positiveMs
    .default(D.REVOCATION_POLL_INTERVAL_MS)
    .describe('How often replicas pick up revocations from the store.'),
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
