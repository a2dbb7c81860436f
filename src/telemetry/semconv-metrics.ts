/**
 * The semantic-convention metric instruments, for OTLP consumers whose dashboards and alerts are written
 * against them: `http.server.request.duration` (HTTP, stable) and `mcp.server.operation.duration` (MCP,
 * development). They are recorded on a meter of their own, exported over OTLP only (`otel.ts`): `/metrics`
 * keeps the sidecar's `mcp_authz_*` families, which say the same in Prometheus's terms, and with no OTLP
 * metrics endpoint nothing is recorded at all. Attribute values are bounded like the labels of
 * `metrics.ts`: the caller passes values already bounded (methods, tools, error codes), and HTTP methods
 * outside the known ones become `_OTHER`, as the HTTP conventions say (`httpRequestMethod`, which the
 * server span uses too).
 *
 * @module
 */
import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import * as A from './semconv.js';

/** Bucket boundaries the HTTP conventions advise for `http.server.request.duration` (seconds). */
export const HTTP_DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
/** Bucket boundaries the MCP conventions advise for `mcp.server.operation.duration` (seconds). */
export const MCP_DURATION_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30, 60, 120, 300];

/** Where the semantic-convention instruments record (`SidecarMetricsOptions.otlpOnly`). */
export interface OtlpOnlyMeter {
  readonly meter: Meter;
  /** Each route label's `http.route`. */
  readonly routes: ReadonlyMap<string, string>;
  /** The public listener's `url.scheme` (`https` with `server.tls`); default `http`. */
  readonly scheme?: string;
}

export class SemconvMetrics {
  readonly #http: Histogram;
  readonly #mcp: Histogram;
  /** `http.route` per bounded route label (`mcp` → `/mcp`); none for a request no route took. */
  readonly #routes: ReadonlyMap<string, string>;
  /** The public listener's scheme (`https` with `server.tls`). */
  readonly #scheme: string;

  constructor(meter: Meter, routes: ReadonlyMap<string, string>, scheme = 'http') {
    this.#routes = routes;
    this.#scheme = scheme;
    this.#http = meter.createHistogram(A.METRIC_HTTP_SERVER_REQUEST_DURATION, {
      description: 'Duration of HTTP server requests.',
      unit: 's',
      advice: { explicitBucketBoundaries: HTTP_DURATION_BUCKETS },
    });
    this.#mcp = meter.createHistogram(A.METRIC_MCP_SERVER_OPERATION_DURATION, {
      description:
        'MCP request duration as observed by the sidecar, from the request received until its answer was sent.',
      unit: 's',
      advice: { explicitBucketBoundaries: MCP_DURATION_BUCKETS },
    });
  }

  /**
   * One HTTP request: `route` is its bounded label, `status` what was sent (499: the client went away; 444: the
   * sidecar closed the connection before its turn).
   */
  request(route: string, method: string | undefined, status: number, seconds: number): void {
    const attributes: Attributes = {
      [A.ATTR_HTTP_REQUEST_METHOD]: A.httpRequestMethod(method),
      [A.ATTR_URL_SCHEME]: this.#scheme,
    };
    const path = this.#routes.get(route);
    if (path !== undefined) attributes[A.ATTR_HTTP_ROUTE] = path;
    const unsent = A.unsentErrorType(status);
    if (unsent) attributes[A.ATTR_ERROR_TYPE] = unsent;
    else {
      attributes[A.ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
      if (status >= 500) attributes[A.ATTR_ERROR_TYPE] = String(status);
    }
    this.#http.record(seconds, attributes);
  }

  /**
   * One decided MCP request (a batch's messages each count): `method` and `tool` bounded by the caller,
   * `errorType` the sidecar's error code when it refused the message, else null.
   */
  operation(method: string, tool: string | null, errorType: string | null, seconds: number): void {
    const attributes: Attributes = { [A.ATTR_MCP_METHOD_NAME]: method };
    if (tool !== null) attributes[A.ATTR_GEN_AI_TOOL_NAME] = tool;
    if (errorType !== null) attributes[A.ATTR_ERROR_TYPE] = errorType;
    this.#mcp.record(seconds, attributes);
  }
}
