/**
 * Local `as const` copies of the attribute names the sidecar puts on spans and log records (STYLE R9,
 * as otel-contrib's `instrumentation-ioredis/src/semconv.ts` does): stable HTTP / network names, the
 * development-stage MCP and JSON-RPC names (moved to the OpenTelemetry GenAI semantic conventions,
 * `semantic-conventions-genai/docs/gen-ai/mcp.md`), and our own `mcp_authz.*` authorization names; and the
 * naming rules of HTTP methods (`_OTHER`) and MCP spans.
 * Copies rather than imports from `@opentelemetry/semantic-conventions/incubating`, because unstable names
 * are renamed between minor releases of that package; a test pins the copies against it.
 *
 * MCP spans, per the GenAI MCP conventions, except their kind: the conventions' SERVER span is the MCP
 * server's own (the upstream's), so the sidecar's decision span, a step of a proxy, is INTERNAL (and one
 * SERVER span per HTTP request stays countable); name `{mcp.method.name} {target}` where target is
 * the tool when there is one, both bounded like the metric labels (a method MCP does not define and a tool
 * outside the catalog are `other`; never a prompt name or resource URI: the caller picks those, and span
 * metrics take the name as a dimension; the raw names stay in attributes); `error.type` is set
 * iff the operation failed (JSON-RPC error code as a string, or a low-cardinality class), and the status is
 * then ERROR; the parent comes
 * from `params._meta.traceparent` when present, and the HTTP transport context is then a span link.
 *
 * @module
 */

import type { Attributes } from '@opentelemetry/api';
import { cutText } from '../cut-text.js';
import { CLIENT_CLOSED_REQUEST, CONNECTION_CLOSED } from '../errors/codes.js';

/** Metric names: HTTP server (stable), MCP server (development; GenAI semantic conventions). */
export const METRIC_HTTP_SERVER_REQUEST_DURATION = 'http.server.request.duration' as const;
export const METRIC_MCP_SERVER_OPERATION_DURATION = 'mcp.server.operation.duration' as const;

/** Stable HTTP server / network / general attributes. */
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method' as const;
/** The method as sent, set only when `http.request.method` is {@link HTTP_METHOD_OTHER}. */
export const ATTR_HTTP_REQUEST_METHOD_ORIGINAL = 'http.request.method_original' as const;
/** `http.request.method` of a method the instrumentation does not know. */
export const HTTP_METHOD_OTHER = '_OTHER' as const;
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code' as const;
export const ATTR_HTTP_ROUTE = 'http.route' as const;
export const ATTR_URL_PATH = 'url.path' as const;
export const ATTR_URL_SCHEME = 'url.scheme' as const;
export const ATTR_URL_FULL = 'url.full' as const;
export const ATTR_SERVER_ADDRESS = 'server.address' as const;
export const ATTR_SERVER_PORT = 'server.port' as const;
export const ATTR_CLIENT_ADDRESS = 'client.address' as const;
export const ATTR_CLIENT_PORT = 'client.port' as const;
export const ATTR_USER_AGENT_ORIGINAL = 'user_agent.original' as const;
export const ATTR_NETWORK_PROTOCOL_NAME = 'network.protocol.name' as const;
export const ATTR_NETWORK_PROTOCOL_VERSION = 'network.protocol.version' as const;
export const ATTR_NETWORK_TRANSPORT = 'network.transport' as const;
export const ATTR_ERROR_TYPE = 'error.type' as const;

/** MCP (development; GenAI semantic conventions). */
export const ATTR_MCP_METHOD_NAME = 'mcp.method.name' as const;
/** Set to a digest of the session id, never the id (`sessionDigest` in `src/mcp/session-digest.ts`). */
export const ATTR_MCP_SESSION_ID = 'mcp.session.id' as const;
export const ATTR_MCP_PROTOCOL_VERSION = 'mcp.protocol.version' as const;
export const ATTR_MCP_RESOURCE_URI = 'mcp.resource.uri' as const;
export const ATTR_GEN_AI_TOOL_NAME = 'gen_ai.tool.name' as const;
export const ATTR_GEN_AI_PROMPT_NAME = 'gen_ai.prompt.name' as const;
/** Set to {@link GEN_AI_OPERATION_EXECUTE_TOOL} on `tools/call` spans only. */
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name' as const;
export const GEN_AI_OPERATION_EXECUTE_TOOL = 'execute_tool' as const;

/** JSON-RPC (development). `jsonrpc.request.id` replaces the deprecated `rpc.jsonrpc.request_id`. */
export const ATTR_JSONRPC_REQUEST_ID = 'jsonrpc.request.id' as const;
/** Recommended only when the version is not `2.0`. Replaces the deprecated `rpc.jsonrpc.version`. */
export const ATTR_JSONRPC_PROTOCOL_VERSION = 'jsonrpc.protocol.version' as const;
/** The JSON-RPC error code of the reply, as a string (e.g. `-32003`). */
export const ATTR_RPC_RESPONSE_STATUS_CODE = 'rpc.response.status_code' as const;
/**
 * The RPC system. The MCP conventions recommend MCP attributes over the RPC ones; `rpc.system.name`
 * (which replaced the deprecated `rpc.system`) is listed for backends that group spans by RPC system.
 */
export const ATTR_RPC_SYSTEM_NAME = 'rpc.system.name' as const;
export const RPC_SYSTEM_JSONRPC = 'jsonrpc' as const;

/** Kubernetes resource attributes (development), filled from downward-API env vars. */
export const ATTR_SERVICE_NAME = 'service.name' as const;
export const ATTR_SERVICE_VERSION = 'service.version' as const;
export const ATTR_SERVICE_INSTANCE_ID = 'service.instance.id' as const;
export const ATTR_K8S_POD_NAME = 'k8s.pod.name' as const;
export const ATTR_K8S_POD_UID = 'k8s.pod.uid' as const;
export const ATTR_K8S_NAMESPACE_NAME = 'k8s.namespace.name' as const;
export const ATTR_K8S_NODE_NAME = 'k8s.node.name' as const;
export const ATTR_K8S_CONTAINER_NAME = 'k8s.container.name' as const;

/** Authorization attributes (ours). */
export const ATTR_AUTHZ_DECISION = 'mcp_authz.decision' as const;
/** True on a decision answered from the decision cache (absent otherwise). */
export const ATTR_AUTHZ_DECISION_CACHED = 'mcp_authz.decision.cached' as const;
/** The first reason of the decision (short sentence from the policy). */
export const ATTR_AUTHZ_REASON = 'mcp_authz.reason' as const;
export const ATTR_AUTHZ_DECISION_ID = 'mcp_authz.decision.id' as const;
export const ATTR_AUTHZ_POLICY_REVISION = 'mcp_authz.policy.revision' as const;
export const ATTR_AUTHZ_AUTH_METHOD = 'mcp_authz.auth.method' as const;
/** Subject id, its keyed hash (`hmac-sha256:…`) or absent, per config (see `telemetrySubject`). */
export const ATTR_AUTHZ_SUBJECT = 'mcp_authz.subject' as const;
export const ATTR_AUTHZ_TENANT = 'mcp_authz.tenant' as const;
/** The bounded `DenyReason` (`authn`, `policy`, `ratelimit`, …) of a denied request. */
export const ATTR_AUTHZ_DENY_REASON = 'mcp_authz.deny.reason' as const;
/** True on a policy denial that `policy.dryRun` let through (the request was forwarded); absent otherwise. */
export const ATTR_AUTHZ_DRY_RUN = 'mcp_authz.dry_run' as const;
/** The sidecar error code (`ERR_AUTHN_INVALID_TOKEN`, …) of a denied request. */
export const ATTR_AUTHZ_ERROR_CODE = 'mcp_authz.error.code' as const;
export const ATTR_AUTHZ_RATELIMIT_REMAINING = 'mcp_authz.ratelimit.remaining' as const;
export const ATTR_AUTHZ_STAGE = 'mcp_authz.stage' as const;
/** Items of a list reply the caller sees, and items pruned from it (filter span). */
export const ATTR_AUTHZ_ITEMS_KEPT = 'mcp_authz.items.kept' as const;
export const ATTR_AUTHZ_ITEMS_REMOVED = 'mcp_authz.items.removed' as const;
/** Log record attribute marking audit records (`audit`), mirrors the stdout line's `log_type`. */
export const ATTR_LOG_TYPE = 'log_type' as const;

export type AuthzDecisionValue = 'allow' | 'deny';

/** The HTTP methods `http.request.method` names as they are; any other is {@link HTTP_METHOD_OTHER}. */
const HTTP_METHODS: ReadonlySet<string> = new Set([
  'GET',
  'POST',
  'DELETE',
  'PUT',
  'PATCH',
  'HEAD',
  'OPTIONS',
  'CONNECT',
  'TRACE',
]);

/** `http.request.method` (span and metric): a known method as it is, any other `_OTHER` (HTTP conventions). */
export function httpRequestMethod(method: string | undefined): string {
  return method !== undefined && HTTP_METHODS.has(method) ? method : HTTP_METHOD_OTHER;
}

/**
 * An HTTP server span's method attributes and the method its name starts with (`{method} {http.route}`):
 * a method not known is `_OTHER`, with `http.request.method_original`, and `HTTP` in the name, as the HTTP
 * conventions ask (the caller picks the method, within what Node's parser accepts).
 */
export function httpServerMethod(method: string): { readonly name: string; readonly attributes: Attributes } {
  const known = httpRequestMethod(method);
  return known === HTTP_METHOD_OTHER
    ? {
        name: 'HTTP',
        attributes: { [ATTR_HTTP_REQUEST_METHOD]: known, [ATTR_HTTP_REQUEST_METHOD_ORIGINAL]: method },
      }
    : { name: known, attributes: { [ATTR_HTTP_REQUEST_METHOD]: known } };
}

/**
 * `error.type` of an HTTP request ended without a response (its recorded status was never sent, so no
 * `http.response.status_code`): the client went away (499), or the sidecar closed the connection before its
 * turn (444, HTTP/1.1 pipelining); undefined for a status that was sent.
 */
export function unsentErrorType(status: number): 'client_closed' | 'sidecar_closed' | undefined {
  if (status === CLIENT_CLOSED_REQUEST) return 'client_closed';
  return status === CONNECTION_CLOSED ? 'sidecar_closed' : undefined;
}

/** Span names of the sidecar's own spans (stages are children of the HTTP server span). */
export const SPAN_STAGE_PREFIX = 'mcp_authz.' as const;

/**
 * The MCP span name: `{mcp.method.name} {target}`, target being the tool when the method names one. Pass
 * bounded values (`SidecarMetrics.operationLabels`): a span name is a dimension of span metrics.
 */
export function mcpSpanName(method: string, target?: string | null): string {
  // A span name is no attribute, so no length limit of the SDK applies to it: cut here, whatever is passed.
  return cutText(target ? `${method} ${target}` : method, SPAN_NAME_MAX_CHARS);
}

/** Longest span name kept ({@link mcpSpanName}). */
export const SPAN_NAME_MAX_CHARS = 256;
