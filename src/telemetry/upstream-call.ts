/**
 * The telemetry of one upstream call: its CLIENT span (HTTP client conventions: named by the method, with the
 * upstream's address and URL, no query; its trace context is the one that goes upstream) and its metrics,
 * `mcp_authz_upstream_duration_seconds` (time to the reply's headers, by status class; `error`: no reply) and
 * `mcp_authz_upstream_errors_total` (by code). A call that never left the sidecar — refused busy
 * (`ERR_UPSTREAM_BUSY`), or whose client left while it waited for a pooled connection (`ERR_CLIENT_CLOSED`)
 * — records no duration sample, as the calls refused before their forwarding record none: no exchange with
 * the upstream was tried (and a refusal's near-zero would pull the latency quantiles down just as the
 * upstream is slow). Its span says so: `error.type` (the code, or `client_closed` as on server spans), status
 * ERROR with a message starting `not sent`. A connection that could not be opened was tried: sampled, `error`.
 * A call the sidecar failed to prepare (its own rewrite of the body: `ERR_INTERNAL`, answered 500 by the route's
 * fail-safe) was not sent either, and is no upstream failure: its span ends so, and no upstream metric counts it.
 *
 * @module
 */
import { type Context, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { CLIENT_CLOSED_REQUEST, type ErrorCode } from '../errors/codes.js';
import type { SidecarMetrics } from './metrics.js';
import type { Telemetry } from './otel.js';
import * as A from './semconv.js';

/** Ends an upstream call's telemetry: `status` null when no reply came, `code` the error it ended with. */
export type UpstreamCallEnd = (status: number | null, code?: ErrorCode) => void;

export interface UpstreamTarget {
  readonly method: string;
  readonly origin: URL;
  readonly path: string;
}

/**
 * Calls that never left the sidecar, by the code they ended with: their span's `error.type` and message, and
 * whether `mcp_authz_upstream_errors_total` counts them (a busy refusal is the upstream's overload).
 */
const NEVER_SENT: Partial<
  Record<ErrorCode, { readonly type: string; readonly why: string; readonly counted: boolean }>
> = {
  ERR_UPSTREAM_BUSY: {
    type: 'ERR_UPSTREAM_BUSY',
    why: 'not sent: every upstream connection busy',
    counted: true,
  },
  ERR_CLIENT_CLOSED: {
    type: A.unsentErrorType(CLIENT_CLOSED_REQUEST) ?? 'client_closed',
    why: 'not sent: the client went away while it waited for an upstream connection',
    counted: false,
  },
  ERR_INTERNAL: {
    type: 'ERR_INTERNAL',
    why: 'not sent: the sidecar failed to prepare the request',
    counted: false,
  },
};

/**
 * Starts the call's CLIENT span under `parent` (when traces are exported) and puts its trace context into
 * `headers` in place of the client's (a `tracestate` whose `traceparent` was refused must not travel on).
 * Call the result once answered or failed.
 */
export function startUpstreamCall(
  tel: Telemetry,
  metrics: SidecarMetrics,
  stageMetrics: boolean,
  parent: Context | undefined,
  headers: Record<string, string | string[]>,
  target: UpstreamTarget,
): UpstreamCallEnd {
  const t0 = process.hrtime.bigint();
  let span: Span | undefined;
  // Untraced, no trace context goes upstream (the client's is never copied; a no-op span carries its ids).
  if (parent && tel.tracing) {
    const { method, origin } = target;
    span = tel.tracer.startSpan(
      method,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [A.ATTR_HTTP_REQUEST_METHOD]: method,
          [A.ATTR_SERVER_ADDRESS]: origin.hostname,
          [A.ATTR_SERVER_PORT]: Number(origin.port) || (origin.protocol === 'https:' ? 443 : 80),
          [A.ATTR_URL_FULL]: `${origin.origin}${target.path.split('?')[0]}`,
          [A.ATTR_AUTHZ_STAGE]: 'forward',
        },
      },
      parent,
    );
    // The forward span's traceparent only: not the client's baggage (parent's) nor tracestate (inherited).
    const own = { ...span.spanContext(), traceState: undefined };
    tel.inject(trace.setSpanContext(ROOT_CONTEXT, own), headers);
  }
  return (status, code) => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (stageMetrics) metrics.stage('forward', seconds);
    const unsent = code === undefined ? undefined : NEVER_SENT[code];
    if (!unsent) metrics.upstream(status, seconds);
    // A client gone, or the sidecar's own failure, is no upstream failure.
    if (code && (unsent?.counted ?? true)) metrics.upstreamError(code);
    if (!span) return;
    if (status !== null) span.setAttribute(A.ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (unsent) {
      span.setAttribute(A.ATTR_ERROR_TYPE, unsent.type);
      span.setStatus({ code: SpanStatusCode.ERROR, message: unsent.why });
    } else if (code || (status !== null && status >= 400)) {
      span.setAttribute(A.ATTR_ERROR_TYPE, code ?? String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
}
