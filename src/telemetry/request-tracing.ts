/**
 * Traces and metrics for one request: a SERVER span per HTTP request (parent: the caller's W3C context; with
 * `telemetry.traceContext: link`, a new trace linked to it), a child span for the stages that do real work
 * ({@link TRACED_STAGES}), one per policy decision (parent: the message's `_meta.traceparent` if any; linked:
 * the server span, `_meta`'s context a link), a CLIENT span for the upstream call (its context injected upstream;
 * `upstream-call.ts`, with the upstream metrics) and a filter span when a list reply is pruned. The cheap checks get no span (a refusal's code and reason
 * are on the server span); with stage metrics on, every stage records a duration. Spans use explicit
 * contexts, no global context manager, so several sidecars can share a process.
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  isSpanContextValid,
  type Link,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { scrubbedReason } from '../audit/scrubbed-reason.js';
import { redactUriSecrets } from '../audit/uri-secrets.js';
import type { Principal } from '../authn/principal.js';
import type { DenyReason, ErrorCode } from '../errors/codes.js';
import type { SidecarError } from '../errors/errors.js';
import { sessionDigest } from '../mcp/session-digest.js';
import { enforcedDenial, type MessageDecision, type RequestContext } from '../pipeline/context.js';
import type { StageObserver } from '../pipeline/pipeline.js';
import { endDecisionSpans, errorType, holdDecisionSpan } from './decision-span.js';
import type { SidecarMetrics } from './metrics.js';
import type { Telemetry } from './otel.js';
import * as A from './semconv.js';
import { telemetrySubject, traceIds } from './trace-context.js';
import { startUpstreamCall, type UpstreamCallEnd, type UpstreamTarget } from './upstream-call.js';

const UNSENT = {
  client_closed: 'the client went away',
  sidecar_closed: 'the connection closed before its turn',
} as const;

/** Pipeline stages that get a child span; `decide` is traced per message by {@link RequestTracing.decision}. */
export const TRACED_STAGES: ReadonlySet<string> = new Set(['authenticate', 'ratelimit']);

export interface RequestTracingOptions {
  readonly subject: 'id' | 'hash' | 'none';
  readonly subjectKey: Buffer;
  /** Record a duration sample per stage (a histogram update per stage per request). */
  readonly stageMetrics: boolean;
  /**
   * `telemetry.traceContext`: a caller's trace context (header, `_meta`) is the parent of the sidecar's spans
   * (`parent`, the default), or only a span link, each request starting a trace of its own (`link`).
   */
  readonly traceContext?: 'parent' | 'link';
}

export class RequestTracing {
  readonly #tel: Telemetry;
  readonly #metrics: SidecarMetrics;
  readonly #opts: RequestTracingOptions;
  readonly #subjects = new WeakMap<Principal, string | undefined>();

  constructor(tel: Telemetry, metrics: SidecarMetrics, opts: RequestTracingOptions) {
    this.#tel = tel;
    this.#metrics = metrics;
    this.#opts = opts;
  }

  /** Opens the server span for a request at `path` (its http.route); `ctx.route` is its bounded label. */
  start(ctx: RequestContext, path: string): void {
    const req = ctx.req;
    const linked = this.#opts.traceContext === 'link';
    // Nothing exported and no caller trace to pass on to the audit trail: no span objects at all.
    if (!this.#tel.tracing && (linked || req.headers.traceparent === undefined)) return;
    const callers = this.#tel.extract(req.headers);
    // Linked: the caller's context picks neither the trace (nor the audit records' trace id) nor sampling.
    const parent = linked ? ROOT_CONTEXT : callers;
    const method = A.httpServerMethod(req.method ?? 'GET');
    const span = this.#tel.tracer.startSpan(
      `${method.name} ${path}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          ...method.attributes,
          [A.ATTR_URL_SCHEME]: 'encrypted' in req.socket ? 'https' : 'http',
          [A.ATTR_URL_PATH]: (req.url ?? '/').split('?')[0] ?? '/',
          [A.ATTR_HTTP_ROUTE]: path,
          [A.ATTR_CLIENT_ADDRESS]: ctx.clientIp,
          [A.ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
        },
        links: linked ? callerLink(callers) : [],
      },
      parent,
    );
    ctx.trace = { span, context: trace.setSpan(parent, span) };
  }

  /**
   * Stage observer for `runStages`: a child span per stage when traces are exported, and a duration sample
   * when stage metrics are on; undefined when neither is, so the hot path then pays nothing.
   */
  get observeStage(): StageObserver | undefined {
    const spans = this.#tel.tracing;
    const samples = this.#opts.stageMetrics;
    if (!spans && !samples) return undefined;
    return (ctx, name) => {
      const t0 = samples ? process.hrtime.bigint() : 0n;
      const span =
        spans && ctx.trace && TRACED_STAGES.has(name)
          ? this.#tel.tracer.startSpan(
              `${A.SPAN_STAGE_PREFIX}${name}`,
              { attributes: { [A.ATTR_AUTHZ_STAGE]: name } },
              ctx.trace.context,
            )
          : undefined;
      if (!span && !samples) return undefined;
      return (result) => {
        if (samples) this.#metrics.stage(name, Number(process.hrtime.bigint() - t0) / 1e9);
        if (span) {
          if (result.kind === 'deny') {
            span.setAttribute(A.ATTR_AUTHZ_ERROR_CODE, result.error.code);
            span.setAttribute(A.ATTR_AUTHZ_DENY_REASON, result.error.reason);
          }
          span.end();
        }
      };
    };
  }

  /** One span per decided JSON-RPC request; records its ids on the decision for the audit trail. */
  decision(ctx: RequestContext, d: MessageDecision, params: unknown): void {
    const linked = this.#opts.traceContext === 'link';
    // Linked and not traced: nothing to record, and the caller's ids are not the audit record's.
    if (linked && !ctx.trace) return;
    const meta =
      typeof params === 'object' && params !== null ? (params as { _meta?: unknown })._meta : undefined;
    const fromMeta = meta !== undefined ? this.#tel.extract({}, meta) : undefined;
    if (!ctx.trace) {
      // Not traced here: the audit record still names the message's own trace context, if it has one.
      if (fromMeta) d.traceIds = traceIds(fromMeta);
      return;
    }
    const metaSpan = fromMeta ? trace.getSpanContext(fromMeta) : undefined;
    // Parent: the message's own context when it has one (the HTTP request's server span is then a link).
    // Linked: always the server span, the message's context a link.
    const parent: Context = metaSpan && !linked ? (fromMeta as Context) : ctx.trace.context;
    const a = d.action;
    const dec = d.decision;
    const p = ctx.principal;
    const attributes: Attributes = {
      [A.ATTR_MCP_METHOD_NAME]: a.method,
      [A.ATTR_AUTHZ_DECISION]: dec.allow ? 'allow' : 'deny',
      [A.ATTR_AUTHZ_DECISION_ID]: d.decisionId,
    };
    if (a.tool !== undefined) {
      attributes[A.ATTR_GEN_AI_TOOL_NAME] = redactUriSecrets(a.tool);
      attributes[A.ATTR_GEN_AI_OPERATION_NAME] = A.GEN_AI_OPERATION_EXECUTE_TOOL;
    }
    if (a.prompt !== undefined) attributes[A.ATTR_GEN_AI_PROMPT_NAME] = redactUriSecrets(a.prompt);
    if (a.uri !== undefined) attributes[A.ATTR_MCP_RESOURCE_URI] = redactUriSecrets(a.uri);
    if (a.id !== null) attributes[A.ATTR_JSONRPC_REQUEST_ID] = String(a.id);
    const facts = ctx.facts;
    if (facts?.sessionId) attributes[A.ATTR_MCP_SESSION_ID] = sessionDigest(facts.sessionId);
    if (facts?.protocolVersion) attributes[A.ATTR_MCP_PROTOCOL_VERSION] = facts.protocolVersion;
    if (dec.revision) attributes[A.ATTR_AUTHZ_POLICY_REVISION] = dec.revision;
    if (dec.cached) attributes[A.ATTR_AUTHZ_DECISION_CACHED] = true;
    if (p) {
      attributes[A.ATTR_AUTHZ_AUTH_METHOD] = p.authMethod;
      const subject = this.#subjectOf(p);
      if (subject !== undefined) attributes[A.ATTR_AUTHZ_SUBJECT] = subject;
    }
    if (!dec.allow) {
      attributes[A.ATTR_AUTHZ_REASON] = scrubbedReason(dec.reasons[0] ?? 'denied');
      attributes[A.ATTR_AUTHZ_DENY_REASON] = 'policy';
      if (d.dryRun) attributes[A.ATTR_AUTHZ_DRY_RUN] = true;
      else {
        attributes[A.ATTR_RPC_RESPONSE_STATUS_CODE] = '-32003';
        attributes[A.ATTR_ERROR_TYPE] = '-32003';
      }
    }
    // The caller's names are attributes (the conventions require them); the name takes the metrics' labels
    // (a tool outside the catalog: `other`; no prompt): span metrics take the name as a dimension.
    const name = A.mcpSpanName(...this.#metrics.operationLabels(a.method, a.tool));
    const links = metaSpan ? [{ context: linked ? metaSpan : ctx.trace.span.spanContext() }] : [];
    const span = this.#tel.tracer.startSpan(name, { kind: SpanKind.INTERNAL, attributes, links }, parent);
    if (enforcedDenial(d)) span.setStatus({ code: SpanStatusCode.ERROR, message: 'Forbidden' });
    d.traceIds = traceIds(span);
    holdDecisionSpan(ctx.trace, d, span);
  }

  /** The subject attribute, computed once per principal (the token and key caches reuse principals). */
  #subjectOf(p: Principal): string | undefined {
    if (this.#subjects.has(p)) return this.#subjects.get(p);
    const subject = telemetrySubject(p.id, this.#opts.subject, this.#opts.subjectKey);
    this.#subjects.set(p, subject);
    return subject;
  }

  /**
   * Starts the upstream call's CLIENT span and puts its trace context into `headers` (`upstream-call.ts`).
   * Call the result once answered or failed: `status` null when no reply came, `code` the error it ended with
   * (`ERR_CLIENT_CLOSED`: its client left before it was sent; one that leaves once it was sent gives neither).
   */
  forward(
    ctx: RequestContext,
    headers: Record<string, string | string[]>,
    target: UpstreamTarget,
  ): UpstreamCallEnd {
    // `forward` holds the decision spans until the request is written (holdUntilSent: a call whose client
    // leaves while it waits for a connection is refused after all); any still open end here, unmarked.
    if (ctx.trace) endDecisionSpans(ctx.trace);
    const stageMetrics = this.#opts.stageMetrics;
    return startUpstreamCall(this.#tel, this.#metrics, stageMetrics, ctx.trace?.context, headers, target);
  }

  /** Counts an upstream failure that came after its reply's headers (a stalled, cut or unreadable body). */
  upstreamFailedLate(code: ErrorCode): void {
    this.#metrics.upstreamError(code);
  }

  /** Starts the span of a list reply's pruning; call the result with the items kept and removed. */
  filter(ctx: RequestContext): ((kept: number, removed: number) => void) | undefined {
    const parent = ctx.trace?.context;
    if (!parent || !this.#tel.tracing) return undefined;
    const span = this.#tel.tracer.startSpan(`${A.SPAN_STAGE_PREFIX}filter`, {}, parent);
    return (kept, removed) => {
      span.setAttribute(A.ATTR_AUTHZ_STAGE, 'filter');
      span.setAttribute(A.ATTR_AUTHZ_ITEMS_KEPT, kept);
      span.setAttribute(A.ATTR_AUTHZ_ITEMS_REMOVED, removed);
      span.end();
    };
  }

  /** Records the request metric of a request outside the MCP routes (metadata documents, 404s). */
  countPlain(
    route: 'metadata' | 'not_found' | 'preflight' | 'bad_request',
    status: number,
    seconds: number,
    method?: string,
    reason: DenyReason | null = null,
  ): void {
    this.#metrics.request(route, status, reason, seconds, method);
  }

  /** Ends the server span and records the request metric. */
  end(ctx: RequestContext, status: number, err: SidecarError | undefined): void {
    const seconds = Number(process.hrtime.bigint() - ctx.startedAt) / 1e9;
    const t = ctx.trace;
    this.#metrics.request(ctx.route ?? 'mcp', status, err?.reason ?? null, seconds, ctx.req.method);
    if (this.#metrics.recordsOperations) {
      const batchDenied = ctx.decisions.some(enforcedDenial);
      for (const d of ctx.decisions)
        this.#metrics.operation(
          d.action.method,
          d.action.tool,
          errorType(d, batchDenied, ctx.answeredCode),
          seconds,
        );
    }
    if (!t) return;
    endDecisionSpans(t);
    const unsent = A.unsentErrorType(status);
    if (unsent) {
      // Nothing was sent: no status code; the request ended in an error of its own kind.
      t.span.setAttribute(A.ATTR_ERROR_TYPE, unsent);
      t.span.setStatus({ code: SpanStatusCode.ERROR, message: UNSENT[unsent] });
    } else {
      t.span.setAttribute(A.ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    }
    if (ctx.principal) t.span.setAttribute(A.ATTR_AUTHZ_AUTH_METHOD, ctx.principal.authMethod);
    if (err) {
      t.span.setAttribute(A.ATTR_AUTHZ_ERROR_CODE, err.code);
      // An upstream failure is no denial: the request was allowed and forwarded.
      if (err.reason !== 'upstream') t.span.setAttribute(A.ATTR_AUTHZ_DENY_REASON, err.reason);
    }
    if (status >= 500) {
      t.span.setAttribute(A.ATTR_ERROR_TYPE, String(status));
      t.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    t.span.end();
  }
}

/** The caller's span context as a link (none when it sent no valid one). */
function callerLink(callers: Context): Link[] {
  const sc = trace.getSpanContext(callers);
  return sc && isSpanContextValid(sc) ? [{ context: sc }] : [];
}
