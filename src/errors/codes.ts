/**
 * The registry of error codes: one line per code with its HTTP status, JSON-RPC error code and the bounded
 * `reason` used in responses, logs and metric labels. Adding a code without a status or reason does not
 * compile, and `docs/errors.md` is checked against this table by a unit test.
 *
 * @module
 */

/** The bounded vocabulary shared by responses, audit records and metric labels (STYLE R9). */
export type DenyReason = 'request' | 'authn' | 'policy' | 'ratelimit' | 'upstream' | 'internal';

/** JSON-RPC error codes the sidecar answers with (the -32000…-32099 range is for implementations). */
export const RPC = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  unauthorized: -32001,
  forbidden: -32003,
  unavailable: -32004,
  upstream: -32005,
  rateLimited: -32029,
  /** MCP 2026-07-28: `Mcp-Method` / `Mcp-Name` headers disagree with the body. */
  headerMismatch: -32020,
  /** MCP 2026-07-28 `UnsupportedProtocolVersionError`: a modern client retries with one of `data.supported`. */
  unsupportedProtocolVersion: -32022,
} as const;

interface CodeInfo {
  readonly status: number;
  readonly rpc: number;
  readonly reason: DenyReason;
  readonly meaning: string;
}

/** The status recorded (never sent) for a request whose client went away before its answer (nginx's 499). */
export const CLIENT_CLOSED_REQUEST = 499;
/**
 * The status recorded (never sent) for a request pipelined behind a reply after which the sidecar closed the
 * connection, so that it was never forwarded nor answered (nginx's 444, "closed without a response").
 */
export const CONNECTION_CLOSED = 444;

export const ERROR_CODES = {
  ERR_REQUEST_PARSE: {
    status: 400,
    rpc: RPC.parseError,
    reason: 'request',
    meaning: 'The body is not valid JSON.',
  },
  ERR_REQUEST_INVALID: {
    status: 400,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      'The body is JSON but not a valid MCP JSON-RPC 2.0 message or batch (ids are strings or safe integers, params an object, no other members, at most 128 levels deep, no lone surrogate escapes, no key repeated or differing from another only in case).',
  },
  ERR_REQUEST_TOO_LARGE: {
    status: 413,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      "The body exceeds `server.maxBodyBytes`, or a chunk extension of a chunked body Node's 16 KiB limit (answered by Node's HTTP server itself, which closes the connection).",
  },
  ERR_REQUEST_TIMEOUT: {
    status: 408,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      "The body did not arrive within 30 s of the request's start: Node's HTTP server answered 408 itself and closed the connection (logs, metrics and traces record that answer). Or the request's header fields did not arrive within `server.headersTimeoutMs` (10 s): answered with this error (route `bad_request`), and the connection closed.",
  },
  ERR_REQUEST_FRAMING: {
    status: 400,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      "The body's HTTP framing is broken (a malformed chunk of a chunked body), or, the request having arrived whole, the request pipelined behind it on its connection is malformed: Node's HTTP server answered 400 itself and closed the connection (logs, metrics and traces record that answer as this request's; its client reads it as its reply). Or the request line or a header field is malformed (Node's parser refused the head): answered with this error (route `bad_request`), and the connection closed.",
  },
  ERR_SERVER_BUSY: {
    status: 503,
    rpc: RPC.unavailable,
    reason: 'request',
    meaning:
      'The request bodies being read at once already fill `server.maxBufferedBodyBytes`, or more than 32 requests wait for their replies on the connection (HTTP/1.1 pipelining, which then closes after this reply); retry shortly (`Retry-After`).',
  },
  ERR_REQUEST_HEADERS: {
    status: 431,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      "The request has more header fields than `server.maxRequestHeaders` (100), or its request line and header fields exceed Node's 16 KiB limit (the connection is then closed), or a chunked body's trailer fields do (answered by Node's HTTP server itself, which closes the connection).",
  },
  ERR_REQUEST_CONTENT_TYPE: {
    status: 415,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning: 'POST bodies must be `application/json` in UTF-8 (no other charset) and not compressed.',
  },
  ERR_REQUEST_PROTOCOL_VERSION: {
    status: 400,
    rpc: RPC.unsupportedProtocolVersion,
    reason: 'request',
    meaning:
      "The `MCP-Protocol-Version` header names a version the sidecar does not support; `data.supported` lists those it does and `data.requested` repeats the one asked for (MCP 2026-07-28's `UnsupportedProtocolVersionError`, from which a client picks a version and retries).",
  },
  ERR_REQUEST_HEADER_MISMATCH: {
    status: 400,
    rpc: RPC.headerMismatch,
    reason: 'request',
    meaning:
      "An `Mcp-Method`, `Mcp-Name` or `Mcp-Param-*` header disagrees with the body (an `Mcp-Param-*` header missing for a marked argument with a value, or sent for a marked argument without one; a header naming an argument the tool does not mark is left to the upstream), or `MCP-Protocol-Version` with the body's `_meta` protocol version; or a 2026-07-28 request lacks a standard header that revision requires (MCP 2026-07-28's `HeaderMismatch`).",
  },
  ERR_REQUEST_ORIGIN: {
    status: 403,
    rpc: RPC.forbidden,
    reason: 'request',
    meaning: 'The `Origin` header is not in `server.allowedOrigins`.',
  },
  ERR_REQUEST_METHOD: {
    status: 405,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning: 'The HTTP method is not supported on this path.',
  },
  ERR_CLIENT_CLOSED: {
    status: CLIENT_CLOSED_REQUEST,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      'The client closed the connection before its request had been authenticated and read; or after its calls were decided, before they reached the upstream (while its stages ran, before its HTTP/1.1 pipelined turn, while it waited for an upstream connection): then refused after their decision, their rate-limit tokens given back. Nobody gets this answer; it is what logs, metrics and the audit record show.',
  },
  ERR_CONNECTION_CLOSED: {
    status: CONNECTION_CLOSED,
    rpc: RPC.unavailable,
    reason: 'request',
    meaning:
      'Pipelined on an HTTP/1.1 connection behind a reply after which the sidecar closed the connection (a body over the limit, a streamed reply to HTTP/1.0, a reply cut off, a shutdown): never forwarded nor answered, so its rate-limit tokens are given back (nobody gets this answer; it is what logs, metrics and the audit record show). Its client sends it again on a new connection.',
  },
  ERR_REQUEST_SESSION: {
    status: 404,
    rpc: RPC.invalidRequest,
    reason: 'request',
    meaning:
      'The session (legacy `sessionId` or `Mcp-Session-Id`) does not exist or belongs to another caller.',
  },
  ERR_SESSION_UNAVAILABLE: {
    status: 503,
    rpc: RPC.unavailable,
    reason: 'request',
    meaning:
      'The `Mcp-Session-Id` names a session this replica does not hold, and the shared store (Redis) that would say whose it is cannot be reached; retry shortly (`Retry-After`). An open stream re-checked meanwhile stays open.',
  },
  ERR_AUTHN_MISSING: {
    status: 401,
    rpc: RPC.unauthorized,
    reason: 'authn',
    meaning: 'No credentials were presented.',
  },
  ERR_AUTHN_INVALID_TOKEN: {
    status: 401,
    rpc: RPC.unauthorized,
    reason: 'authn',
    meaning:
      'The bearer token failed verification (signature, issuer, audience, expiry, type, algorithm or claims).',
  },
  ERR_AUTHN_INVALID_API_KEY: {
    status: 401,
    rpc: RPC.unauthorized,
    reason: 'authn',
    meaning: 'The API key is unknown, inactive, expired or its secret is wrong.',
  },
  ERR_AUTHN_REVOKED: {
    status: 401,
    rpc: RPC.unauthorized,
    reason: 'authn',
    meaning: 'The token (by `jti`) or API key (by id) has been revoked.',
  },
  ERR_AUTHN_INVALID_REQUEST: {
    status: 400,
    rpc: RPC.invalidRequest,
    reason: 'authn',
    meaning:
      'Credentials presented in a way RFC 6750 and the MCP authorization spec forbid: in the URL query string (`access_token`, an API key or a JWT), refused whatever the headers carry; or two different credentials (the `Authorization` header and the API-key header disagree).',
  },
  ERR_AUTHN_INSUFFICIENT_SCOPE: {
    status: 403,
    rpc: RPC.forbidden,
    reason: 'authn',
    meaning:
      'The token lacks a scope in `authn.jwt.requiredScopes`, or one the policy named in `required_scopes` when it denied the call (step-up): the challenge lists the scopes to ask for.',
  },
  ERR_AUTHN_UNAVAILABLE: {
    status: 503,
    rpc: RPC.unavailable,
    reason: 'authn',
    meaning: 'Credentials could not be checked (JWKS or store unreachable); the request is denied.',
  },
  ERR_POLICY_DENIED: {
    status: 200,
    rpc: RPC.forbidden,
    reason: 'policy',
    meaning: 'The policy denied the JSON-RPC message; `data.reasons` says why.',
  },
  ERR_TASK_UNKNOWN: {
    status: 200,
    rpc: RPC.invalidParams,
    reason: 'policy',
    meaning:
      'A task method named a task this caller did not create, or none this sidecar saw created: the same answer either way, and the one MCP 2025-11-25 gives for a nonexistent task (invalid params).',
  },
  ERR_ARGUMENTS_TOO_LARGE: {
    status: 200,
    rpc: RPC.invalidParams,
    // A per-message answer, as a policy denial is: a batch's other calls are answered "not forwarded", and
    // on the legacy transport it goes on the stream.
    reason: 'policy',
    meaning:
      "A call's arguments hold more JSON values than `policy.maxArgumentValues`: refused before the policy, whose memory would grow by about 200 bytes a value and keep it.",
  },
  ERR_POLICY_UNAVAILABLE: {
    status: 200,
    rpc: RPC.forbidden,
    reason: 'policy',
    meaning: 'No policy is loaded or evaluation failed; the message is denied (deny by default).',
  },
  ERR_RATELIMIT_EXCEEDED: {
    status: 429,
    rpc: RPC.rateLimited,
    reason: 'ratelimit',
    meaning: "The caller's token bucket is empty; `Retry-After` says when a token is due.",
  },
  ERR_RATELIMIT_BATCH: {
    status: 429,
    rpc: RPC.rateLimited,
    reason: 'ratelimit',
    meaning:
      'A batch makes more calls to one bucket than its capacity: it can never pass, so no `Retry-After`; send fewer per batch.',
  },
  ERR_RATELIMIT_STREAMS: {
    status: 429,
    rpc: RPC.rateLimited,
    reason: 'ratelimit',
    meaning: 'The caller already has `server.maxStreamsPerCaller` event streams open.',
  },
  ERR_ABUSE_BLOCKED: {
    status: 403,
    rpc: RPC.forbidden,
    reason: 'ratelimit',
    meaning: 'The caller or its address is blocked by an abuse rule or an operator until the time given.',
  },
  ERR_RATELIMIT_BACKEND: {
    status: 503,
    rpc: RPC.unavailable,
    reason: 'ratelimit',
    meaning: 'The rate-limit store failed and `ratelimit.failureMode` is `closed`.',
  },
  ERR_UPSTREAM_UNAVAILABLE: {
    status: 502,
    rpc: RPC.upstream,
    reason: 'upstream',
    meaning:
      'The MCP server could not be reached: its connection could not be opened (nothing was sent: the rate-limit tokens are given back), or it failed once the request was on it (it may have run: they are not).',
  },
  ERR_UPSTREAM_REPLY: {
    status: 502,
    rpc: RPC.upstream,
    reason: 'upstream',
    meaning:
      'The upstream reply was not readable HTTP (conflicting lengths, headers over 16 KiB) or failed mid-way, or a list reply the sidecar must prune could not be read (not JSON, compressed, another content type, over 16 MiB), so it is not passed on.',
  },
  ERR_UPSTREAM_BUSY: {
    status: 503,
    rpc: RPC.upstream,
    reason: 'upstream',
    meaning:
      'Every upstream connection is busy and `upstream.maxPendingRequests` requests already wait for one; retry shortly (`Retry-After`). Nothing was sent: the rate-limit tokens are given back.',
  },
  ERR_UPSTREAM_TIMEOUT: {
    status: 504,
    rpc: RPC.upstream,
    reason: 'upstream',
    meaning:
      'The MCP server did not answer within `upstream.headersTimeoutMs`, or its JSON reply paused for `upstream.bodyTimeoutMs`.',
  },
  ERR_INTERNAL: {
    status: 500,
    rpc: RPC.internalError,
    reason: 'internal',
    meaning: 'An unexpected error; the request is denied and the cause is logged.',
  },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function codeInfo(code: ErrorCode): CodeInfo {
  return ERROR_CODES[code];
}
