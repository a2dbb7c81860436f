/**
 * What the routes share: the stage lists, the policy engine, the annotation cache and the upstream
 * client, plus the small per-request helpers (context creation, client IP, facts for the policy, the
 * resource-metadata URL, and answering a deny).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../authn/principal.js';
import { ANONYMOUS } from '../authn/principal.js';
import type { Config } from '../config/schema.js';
import { CLIENT_CLOSED_REQUEST, type DenyReason } from '../errors/codes.js';
import type { SidecarError } from '../errors/errors.js';
import type { AnnotationCache } from '../mcp/annotations.js';
import { LATE_REPLY_GRACE_MS } from '../mcp/in-flight-ids.js';
import type { ListItem, VisibleFn } from '../mcp/list-filter.js';
import { legacySessionId } from '../mcp/owner-key.js';
import { protocolVersionOf } from '../mcp/protocol-version.js';
import type { NotificationCheck } from '../mcp/reply-filter.js';
import { StreamCounts } from '../mcp/stream-counts.js';
import { createContext, type RequestContext, type Transport } from '../pipeline/context.js';
import type { PipelineEvents } from '../pipeline/events.js';
import type { Pipelines, StageObserver } from '../pipeline/pipeline.js';
import type { PolicyEngine } from '../policy/engine.js';
import { buildVisibleInput, type RequestFacts } from '../policy/input.js';
import type { Logger } from '../telemetry/logger.js';
import type { RequestTracing } from '../telemetry/request-tracing.js';
import { clientIpOf } from './client-ip.js';
import { showAllButReport } from './dry-run.js';
import type { ForwardDeps } from './forward.js';
import { resourceIdentifier, resourceMetadataUrl } from './resource-metadata.js';
import { errorResponse, sendJson } from './respond.js';
import { streamNotifications } from './stream-notifications.js';

const LIST_METHOD_OF_KIND = {
  tool: 'tools/list',
  prompt: 'prompts/list',
  resource: 'resources/list',
  resource_template: 'resources/templates/list',
  method: 'tools/list',
} as const;

export interface RuntimeDeps {
  readonly config: Config;
  readonly pipelines: Pipelines;
  readonly engine: PolicyEngine;
  readonly annotations: AnnotationCache;
  readonly forwardDeps: ForwardDeps;
  readonly logger: Logger;
  readonly now: () => number;
  readonly events: PipelineEvents;
  readonly tracing?: RequestTracing;
}

export class SidecarRuntime {
  readonly pipelines: Pipelines;
  readonly annotations: AnnotationCache;
  readonly forwardDeps: ForwardDeps;
  readonly upstreamMcpPath: string;
  /** Open event streams per caller (`server.maxStreamsPerCaller`). */
  readonly streams: StreamCounts;
  readonly #deps: RuntimeDeps;

  constructor(deps: RuntimeDeps) {
    this.#deps = deps;
    this.pipelines = deps.pipelines;
    this.annotations = deps.annotations;
    this.forwardDeps = deps.forwardDeps;
    const upstreamPath = new URL(deps.config.upstream.url).pathname;
    this.upstreamMcpPath = upstreamPath === '/' ? deps.config.server.mcpPath : upstreamPath;
    this.streams = new StreamCounts(deps.config.server.maxStreamsPerCaller);
  }

  get config(): Config {
    return this.#deps.config;
  }

  get logger(): Logger {
    return this.#deps.logger;
  }

  /** The sidecar's clock, epoch milliseconds. */
  now(): number {
    return this.#deps.now();
  }

  /** A new request context; `route` is the bounded label for metrics and traces. */
  context(
    req: IncomingMessage,
    transport: Transport,
    route: 'mcp' | 'legacy_sse' | 'legacy_messages' = 'mcp',
  ): RequestContext {
    // A proxy in front (trusted hops) names the request as its logs do; a client reaching the sidecar directly
    // would choose the id of the audit record and of the policy input, another request's one included.
    const header = this.#deps.config.server.trustProxyHops > 0 ? req.headers['x-request-id'] : undefined;
    const requestId = typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
    const ctx = createContext(req, {
      requestId,
      transport,
      clientIp: this.clientIp(req),
      now: new Date(this.#deps.now()),
      route,
    });
    const s = this.#deps.config.server;
    const path =
      route === 'mcp' ? s.mcpPath : route === 'legacy_sse' ? s.legacySsePath : s.legacyMessagesPath;
    this.#deps.tracing?.start(ctx, path);
    return ctx;
  }

  /** Stage observer for tracing and per-stage metrics (undefined when off). */
  get observeStage(): StageObserver | undefined {
    return this.#deps.tracing?.observeStage;
  }

  /** Starts the trace span of a list reply's pruning (undefined when traces are off). */
  filterSpan(ctx: RequestContext): ((kept: number, removed: number) => void) | undefined {
    return this.#deps.tracing?.filter(ctx);
  }

  clientIp(req: IncomingMessage): string {
    return clientIpOf(req, this.#deps.config.server.trustProxyHops);
  }

  /**
   * What the policy input's context is made of. Computed by the decide stage, after parsing (the protocol
   * version may come from an `initialize` in the body), with the time it runs. The session is the
   * `Mcp-Session-Id` header; on the legacy messages endpoint, its `sessionId` query parameter (a header there
   * means nothing).
   */
  facts(ctx: RequestContext): RequestFacts {
    const session =
      ctx.route === 'legacy_messages'
        ? legacySessionId(ctx.req.url)
        : (headerValue(ctx.req.headers['mcp-session-id']) ?? null);
    return {
      // The clock when the call is decided, not when its headers came: a body sent slowly must not carry a
      // call past the end of a time window the policy sets (business hours).
      now: new Date(this.#deps.now()),
      clientIp: ctx.clientIp,
      sessionId: session,
      requestId: ctx.requestId,
      environment: this.#deps.config.policy.environment,
      timezone: this.#deps.config.policy.timezone,
      protocolVersion: protocolVersionOf(
        headerValue(ctx.req.headers['mcp-protocol-version']),
        ctx.parsed,
        ctx.transport,
        this.#deps.config.server.protocolVersions,
      ),
      transport: ctx.transport,
    };
  }

  /**
   * The `visible` check for list replies, for this request's caller. `live`: the stream stays open for
   * hours, so each check reads the clock again (the request's time would make time rules go stale).
   */
  visibleFor(
    ctx: RequestContext,
    principal: Principal = ctx.principal ?? ANONYMOUS,
    live = false,
  ): VisibleFn {
    const facts = ctx.facts ?? this.facts(ctx);
    const visible = (item: ListItem) =>
      this.#deps.engine.visible(
        buildVisibleInput(
          principal,
          LIST_METHOD_OF_KIND[item.kind],
          item.kind,
          item.name,
          item.annotations,
          live ? { ...facts, now: new Date(this.#deps.now()) } : facts,
        ),
      );
    // A dry run never shows an anonymous caller what the policy keeps from it (as decide.ts).
    if (!this.#deps.config.policy.dryRun || principal.authMethod === 'anonymous') return visible;
    // A dry run prunes nothing, but says what the policy would hide.
    return showAllButReport(visible, ({ count, names }) =>
      this.#deps.logger.info(
        { request_id: ctx.requestId, would_hide: count, items: names },
        'dry run: the policy would hide these list items from the caller',
      ),
    );
  }

  /** The notifications an event stream of `principal` passes on (stream-notifications.ts). */
  streamNotifications(ctx: RequestContext, principal: Principal): NotificationCheck {
    const { engine, logger, now, config } = this.#deps;
    const facts = ctx.facts ?? this.facts(ctx);
    return streamNotifications({ engine, logger, now, dryRun: config.policy.dryRun }, ctx, principal, facts);
  }

  resourceIdentifier(req: IncomingMessage): string {
    return resourceIdentifier(this.#deps.config, req);
  }

  resourceMetadataUrl(req: IncomingMessage): string {
    return resourceMetadataUrl(this.resourceIdentifier(req));
  }

  /** The scopes a token needs, space-separated ('' for none): the 401 challenges name them. */
  get requiredScopes(): string {
    return this.#deps.config.authn.jwt.requiredScopes.join(' ');
  }

  /** Answers a denied request through the one error mapping and logs it. */
  deny(ctx: RequestContext, res: ServerResponse, err: SidecarError): void {
    const out = errorResponse(ctx, err, this.resourceMetadataUrl(ctx.req), this.requiredScopes);
    // The rest of an oversized body was never read: do not reuse the connection. Nor after a refusal before
    // the body of a large or chunked one, or one awaiting 100 Continue: Node would read and discard it to
    // reuse the connection, held for as long as the client trickles it.
    if (
      err.code === 'ERR_REQUEST_TOO_LARGE' ||
      (ctx.body === undefined && !ctx.req.complete && !smallBody(ctx.req))
    )
      ctx.responseHeaders.connection = 'close';
    // A 503 for a dependency that is down (store, JWKS) is one of many during an outage, which the component
    // logs once when it starts and once when it ends: per request it is a denial like any other. Only an
    // unexpected error (500) is an error line of its own.
    const level = err.code === 'ERR_INTERNAL' ? 'error' : 'info';
    this.#deps.logger[level](
      {
        request_id: ctx.requestId,
        code: err.code,
        reason: err.reason,
        status: out.status,
        subject: ctx.principal?.id ?? null,
        ...(err.cause ? { cause: (err.cause as Error).message ?? String(err.cause) } : {}),
      },
      'request denied',
    );
    sendJson(res, out.status, out.body, { ...ctx.responseHeaders, ...out.headers });
    this.finish(ctx, out.status, err);
  }

  /** Counts a request answered outside the MCP routes once its response has finished. */
  countPlain(res: ServerResponse, route: 'metadata' | 'not_found' | 'preflight' | 'bad_request'): void {
    const tracing = this.#deps.tracing;
    if (!tracing) return;
    const started = process.hrtime.bigint();
    res.once('finish', () =>
      tracing.countPlain(
        route,
        res.statusCode,
        Number(process.hrtime.bigint() - started) / 1e9,
        res.req?.method,
        // A refusal has the reason of any other (a refused preflight is the Origin check's, ERR_REQUEST_ORIGIN).
        res.statusCode >= 400 && route !== 'not_found' && route !== 'metadata' ? 'request' : null,
      ),
    );
  }

  /**
   * Counts a request answered before any route took it, whose duration is not known (0 unless given): a
   * request head Node's HTTP server refused (`client-errors.ts`), a request no context was made for.
   */
  countUnrouted(status: number, reason: DenyReason, seconds = 0): void {
    this.#deps.tracing?.countPlain('bad_request', status, seconds, undefined, reason);
  }

  /** The upstream answered (or failed) a forwarded request, or (499, 444) it could not be forwarded. */
  requestDone(ctx: RequestContext, status: number): void {
    // Checked first: the line's fields (a BigInt subtraction among them) would be built for nothing.
    const logger = this.#deps.logger;
    if (logger.isLevelEnabled('debug'))
      logger.debug(
        { request_id: ctx.requestId, status, ms: Number(process.hrtime.bigint() - ctx.startedAt) / 1e6 },
        ctx.forwarded ? 'request forwarded' : 'request not forwarded',
      );
    this.finish(ctx, status, ctx.upstreamError ?? ctx.refusedLate);
  }

  /** Reports a finished request to the listeners (audit, metrics, abuse detection). */
  finish(ctx: RequestContext, status: number, err: SidecarError | undefined): void {
    ctx.finished = true;
    // A forwarded request cut off before its reply may still be answered upstream: hold its ids a while.
    const cut =
      ctx.forwarded === true &&
      (ctx.replyCut === true || status === CLIENT_CLOSED_REQUEST || status === 502 || status === 504);
    ctx.release?.(cut ? LATE_REPLY_GRACE_MS : 0, ctx.resumeAt);
    const events = this.#deps.events;
    this.#deps.tracing?.end(ctx, status, err);
    events.requestDone(ctx, status, err);
    for (const d of ctx.decisions) events.decision(ctx, d);
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Bodies Node may read and discard after a refusal, keeping the connection: a declared length of 64 KiB or less. */
const DISCARDED_BODY_BYTES = 64 * 1024;

function smallBody(req: IncomingMessage): boolean {
  const length = Number(req.headers['content-length'] ?? Number.NaN);
  return length <= DISCARDED_BODY_BYTES && req.headers.expect === undefined;
}
