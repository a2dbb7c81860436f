/**
 * The `server` section of the configuration: the public listener, its MCP paths and bounds (bodies,
 * batches, connections, streams, sessions), CORS origins, protocol versions and the shutdown timings.
 *
 * @module
 */
import { z } from 'zod';
import * as D from './defaults.js';
import { msOrOff, port, positiveMs } from './schema-common.js';

/**
 * A path requests are routed by, compared with the request's path as sent: a `?`, `#` or space in it, or a
 * character clients percent-encode (`é`), would never match (a config that validated, then answered 404 to
 * every MCP request). RFC 3986 path characters only (percent-encoded ones as the client sends them).
 */
const requestPath = z
  .string()
  .regex(
    /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/,
    'must be a path starting with / of URL path characters (no ?, #, spaces or non-ASCII; percent-encode them)',
  );

const SUPPORTED_PROTOCOL_VERSIONS = [
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
  '2026-07-28',
] as const;

export const TlsSchema = z
  .strictObject({
    certFile: z
      .string()
      .min(1)
      .describe(
        'PEM certificate chain of the public listener (leaf first), e.g. `tls.crt` of a `kubernetes.io/tls` Secret. Re-read when it changes.',
      ),
    keyFile: z
      .string()
      .min(1)
      .describe('PEM private key of that certificate (`tls.key`). Re-read when it changes.'),
    clientCaFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "PEM CA certificate(s) for mutual TLS: when set, a client must present a certificate signed by one of them or the handshake fails (Envoy's `require_client_certificate`). It authenticates the connection (the ingress or gateway in front), not the caller: bearer credentials are still required. Re-read when it changes.",
      ),
    minVersion: z
      .enum(['TLSv1.2', 'TLSv1.3'])
      .default(D.TLS_MIN_VERSION)
      .describe('Oldest TLS version accepted.'),
  })
  .describe(
    'TLS on the public listener, for pods whose traffic is not encrypted by a mesh or an ingress in front: bearer tokens cross the network in the clear otherwise. Certificate, key and client CA are re-read when their files change (a renewal by cert-manager) and take effect for new connections; a broken set keeps the last good one and is logged. Off when left out.',
  );

export const ServerSchema = z.strictObject({
  host: z
    .string()
    .min(1)
    .default(D.PUBLIC_HOST)
    .describe(
      'Interface of the public listener (the pod\'s public port). The default "::" takes IPv6 and IPv4 alike (on a host without IPv6 the sidecar falls back to 0.0.0.0); 0.0.0.0 is IPv4 only.',
    ),
  port: port.default(D.PUBLIC_PORT).describe('Port of the public listener; 0 picks a free port.'),
  tls: TlsSchema.optional(),
  mcpPath: requestPath.default(D.MCP_PATH).describe('Path of the Streamable HTTP MCP endpoint.'),
  legacySsePath: requestPath
    .default(D.LEGACY_SSE_PATH)
    .describe('Path of the legacy HTTP+SSE stream (GET), here and on the upstream.'),
  legacyMessagesPath: requestPath
    .default(D.LEGACY_MESSAGES_PATH)
    .describe('Path where legacy SSE clients POST messages (the rewritten `endpoint` event).'),
  maxBodyBytes: z
    .number()
    .int()
    .positive()
    .default(D.MAX_BODY_BYTES)
    .describe('Largest accepted request body; larger bodies get 413.'),
  maxBufferedBodyBytes: z
    .number()
    .int()
    .min(0)
    .default(D.MAX_BUFFERED_BODY_BYTES)
    .describe(
      'Most bytes of request bodies being read at once, all connections together (64 MiB): a body is held whole until it is decided, so a caller with a few hundred connections each trickling in a body of `maxBodyBytes` would otherwise hold hundreds of MB. A body that would pass it (its declared length, or as it comes) gets 503 `ERR_SERVER_BUSY` with `Retry-After`. 0: no limit.',
    ),
  maxRequestHeaders: z
    .number()
    .int()
    .positive()
    .max(10_000)
    .default(D.MAX_REQUEST_HEADERS)
    .describe(
      "Most header fields (lines) in one request, as Envoy's max_headers_count; more get 431. Node would otherwise drop every field past its 2,000th silently, a second Authorization or Mcp-Name line among them.",
    ),
  maxBatchMessages: z
    .number()
    .int()
    .positive()
    .default(D.MAX_BATCH_MESSAGES)
    .describe(
      'Most JSON-RPC messages in one batch (each request is decided and rate-limited on its own); larger batches get 400.',
    ),
  maxStreamsPerCaller: z
    .number()
    .int()
    .positive()
    .default(D.MAX_STREAMS_PER_CALLER)
    .describe(
      'Most event streams (GET /mcp, legacy SSE) one caller may have open at once; each holds an upstream connection. More get 429.',
    ),
  maxConnections: z
    .number()
    .int()
    .min(0)
    .default(D.MAX_CONNECTIONS)
    .describe(
      "Most client connections the public port holds at once (each event stream keeps one, and an upstream connection); beyond it new connections are closed at once and counted in `mcp_authz_connections_dropped_total` (Envoy's listener connection limit). 0: no limit.",
    ),
  streamRecheckMs: msOrOff
    .default(D.STREAM_RECHECK_MS)
    .describe(
      'How often an open event stream (GET /mcp, legacy SSE) re-checks its caller: credentials, blocks, session. A caller no longer allowed (token expired or revoked, key revoked, blocked) has the stream cut. 0 turns it off.',
    ),
  headersTimeoutMs: positiveMs
    // The check runs as often as the timeout (at most once a second): 1 ms would be a 1 ms timer.
    .min(100, 'at least 100: the timeout is checked as often as it is long, up to once a second')
    .max(D.REQUEST_TIMEOUT_MS, 'at most 30000: the whole request, head and body, must be in within 30 s')
    .default(D.HEADERS_TIMEOUT_MS)
    .describe(
      "How long a client may take to send a request's line and header fields (Node's `headersTimeout`, checked once a second): then it is answered 408 `ERR_REQUEST_TIMEOUT` and its connection closed, so a client trickling in a head (slowloris) does not hold a connection. From 100 to 30000, the time the whole request, body included, has.",
    ),
  sendTimeoutMs: msOrOff
    .default(D.SEND_TIMEOUT_MS)
    .describe(
      "How long a reply or event stream may wait with data unsent because its client reads nothing (nginx's send_timeout): then it is cut, which frees the upstream connection it holds. An idle stream with nothing to send never times out. 0 turns it off.",
    ),
  shutdownDelayMs: msOrOff
    .default(D.SHUTDOWN_DELAY_MS)
    .describe(
      'On SIGTERM, how long the sidecar keeps accepting requests while `/readyz` answers 503, before it stops listening: Kubernetes removes a terminating pod from the Service endpoints asynchronously, and requests routed meanwhile would be refused. 0 stops at once.',
    ),
  shutdownGraceMs: positiveMs
    .default(D.SHUTDOWN_GRACE_MS)
    .describe('After the shutdown delay, how long in-flight requests may take before connections are cut.'),
  allowedOrigins: z
    .array(z.string().min(1))
    .default([])
    .describe(
      'Origins allowed when a request carries `Origin` (`*`: any), also served CORS; empty allows only requests without Origin.',
    ),
  protocolVersions: z
    .array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/))
    // None would refuse every request after initialize: clients send the header from then on.
    .min(1, 'at least one version: with none, every request carrying MCP-Protocol-Version gets 400')
    .default([...SUPPORTED_PROTOCOL_VERSIONS])
    .describe('Accepted `MCP-Protocol-Version` header values; others get 400.'),
  trustProxyHops: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('How many X-Forwarded-For hops to trust for the client IP. Warning: >0 lets callers set it.'),
  maxSessionsPerCaller: z
    .number()
    .int()
    .min(1)
    .max(D.MAX_TRACKED_SESSIONS)
    .default(D.MAX_SESSIONS_PER_CALLER)
    .describe(
      `Streamable HTTP sessions one caller may hold in the session table (${D.MAX_TRACKED_SESSIONS.toLocaleString('en-US')} for all callers); beyond it the caller's least recently used session is evicted — and with unknownSessions: reject, ended at the upstream — which bounds what a client looping initialize costs the MCP server.`,
    ),
  unknownSessions: z
    .enum(['reject', 'forward'])
    .default(D.UNKNOWN_SESSIONS)
    .describe(
      'A Streamable HTTP request naming an `Mcp-Session-Id` this sidecar never saw the upstream issue (restart, another replica, or evicted from its full session table or after a day unused), and, with Redis, that the store binds to no session of this caller: `reject` answers 404, after which MCP 2025-11-25 clients must start a new session (the TypeScript SDK client does not: its host must reconnect), and a session evicted from the table is ended at the upstream with a DELETE; `forward` lets the upstream decide (replicas sharing sessions without sticky routing) and leaves evicted sessions there. Warning: with `forward`, a caller who learns a session id this replica does not know can use that session.',
    ),
  maxTasksPerCaller: z
    .number()
    .int()
    .min(1)
    .max(D.MAX_TRACKED_TASKS)
    .default(D.MAX_TASKS_PER_CALLER)
    .describe(
      `MCP tasks one caller may hold in the task table (${D.MAX_TRACKED_TASKS.toLocaleString('en-US')} for all callers); beyond it the caller's oldest task is forgotten, and with unknownTasks: reject its caller can no longer reach it.`,
    ),
  maxTaskBindingMs: positiveMs
    .default(D.MAX_TASK_BINDING_MS)
    .describe(
      "The longest a task stays bound to the caller who created it: the task's own `ttl` (as the upstream granted it), capped at this, plus a minute. After that, with unknownTasks: reject, the task can no longer be reached through the sidecar; with forward, anyone who knows its id can reach it for as long as the upstream keeps it (which may be longer: a server may extend a task's ttl, and need not delete it when the ttl ends).",
    ),
  unknownTasks: z
    .enum(['reject', 'forward'])
    .default(D.UNKNOWN_TASKS)
    .describe(
      "A `tasks/get`, `tasks/result`, `tasks/cancel` or `tasks/update` naming a task this sidecar never saw created (restart, another replica, forgotten from its full table): `reject` refuses it (HTTP 200, JSON-RPC -32602 `ERR_TASK_UNKNOWN`, as for another caller's task), `forward` lets the upstream decide. Such tasks are never kept in `tasks/list` replies, and a task created by another caller is refused either way. Warning: with `forward`, a caller who learns a task id this replica does not know can read that task's result.",
    ),
});
