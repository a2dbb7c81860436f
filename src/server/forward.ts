/**
 * Forwards an allowed request to the upstream and streams the reply back. Replies that answer list requests
 * are rewritten on the way (JSON: buffered up to a limit; SSE: event by event); all other replies are passed
 * on untouched: written at once when the upstream client read them whole (a short Content-Length, no event
 * stream: `proxy/reply-handler.ts`), else piped. A client that goes away aborts the upstream request; one gone
 * before its request reached the upstream (while the stages ran, before its pipelined turn, while it waited for
 * an upstream connection) has it refused after its decision ({@link unforwardedStatus}); one the upstream never
 * got (503 busy, no connection) its tokens back. A non-SSE reply pausing `upstream.bodyTimeoutMs` fails (504).
 * @module
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { normalizeIp } from '../abuse/targets.js';
import { ANONYMOUS } from '../authn/principal.js';
import { CLIENT_CLOSED_REQUEST, codeInfo } from '../errors/codes.js';
import { connectionClosed, toSidecarError, UpstreamError } from '../errors/errors.js';
import { withOwnTraceContext } from '../mcp/meta-trace.js';
import type { ReplyFilter } from '../mcp/reply-filter.js';
import type { SessionOwners } from '../mcp/session-owners.js';
import { SseRewriter } from '../mcp/sse-transform.js';
import type { TaskOwners } from '../mcp/task-owners.js';
import type { RequestContext } from '../pipeline/context.js';
import { giveBackTokens } from '../pipeline/stages/late-refusal.js';
import {
  clientResponseHeaders,
  type HeaderPolicy,
  overlayReplyHeaders,
  upstreamRequestHeaders,
} from '../proxy/headers.js';
import { notSent, type Upstream } from '../proxy/upstream.js';
import { isEventStream, readWhole, replyType, unfilterable } from '../proxy/upstream-reply.js';
import { holdUntilSent } from '../telemetry/decision-span.js';
import type { Logger } from '../telemetry/logger.js';
import type { RequestTracing } from '../telemetry/request-tracing.js';
import type { ActiveReplies } from './active-replies.js';
import type { ClientSignal } from './client-signal.js';
import type { OutageLog } from './outage-log.js';
import { awaitTurn, unforwardedStatus } from './pipelined.js';
import { ignore, pump, watched } from './reply-pump.js';
import { refuseSessionGone, sessionGone } from './session-gone.js';
import { SESSION_TAKEN, trackSession } from './session-tracking.js';
import { failReply, sendUpstreamError } from './upstream-failure.js';

export const MAX_REWRITTEN_REPLY_BYTES = 16 * 1024 * 1024;

export interface ForwardDeps {
  readonly upstream: Upstream;
  readonly headers: HeaderPolicy;
  readonly logger: Logger;
  readonly tracing?: RequestTracing;
  /** Streamable HTTP session ownership: bound when the upstream issues a session, freed on DELETE. */
  readonly sessions?: SessionOwners;
  /** MCP tasks bound to the callers who created them (the reply filter binds and prunes). */
  readonly tasks?: TaskOwners;
  /** Replies being piped: cut when their client stops reading, ended cleanly at shutdown. */
  readonly replies?: ActiveReplies;
  /** Logs an upstream outage once (502s and 504s), instead of a line per refused call. */
  readonly outages?: OutageLog;
}

export interface ForwardRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** The request's client signal (the caller releases it once forward is done). */
  readonly signal: ClientSignal;
  readonly path: string;
  readonly body?: Buffer;
  readonly filter?: ReplyFilter;
  /** Rewrites every SSE event (legacy transport); takes precedence over `filter` for SSE replies. */
  readonly sseRewriter?: SseRewriter;
  /** A POST whose reply is a long-lived event stream (`subscriptions/listen`): the upstream's stream pool. */
  readonly stream?: boolean;
  /** Called once the whole request has been written to the upstream (it may act on it from then on). */
  readonly onSent?: () => void;
}

export async function forward(
  ctx: RequestContext,
  res: ServerResponse,
  deps: ForwardDeps,
  r: ForwardRequest,
): Promise<number> {
  const signal = r.signal; // the request's one client signal: undici takes it as it is
  // The client left while the stages ran, or (pipelined behind another reply: forwarded at its turn) the
  // connection closed before its turn: there is nobody to forward for.
  if (signal.aborted || (!res.socket && !(await awaitTurn(res)))) return unforwardedStatus(ctx, res);
  // Its session ended (and maybe went to another caller) since it was checked: not forwarded into it. (No
  // binding noted: no session was checked, as on a stateless POST; one property read.)
  if (ctx.sessionBinding !== undefined && sessionGone(ctx, deps.sessions)) return refuseSessionGone(ctx, res);
  const headers = upstreamRequestHeaders(ctx.req.headers, deps.headers, ctx.principal ?? ANONYMOUS, {
    clientIp: ctx.clientIp,
    // Only with a forwarded-for chain can the client (trusted hops) differ from the connecting peer.
    peerIp: ctx.req.headers['x-forwarded-for'] ? normalizeIp(ctx.req.socket.remoteAddress ?? '') : undefined,
    proto: 'encrypted' in ctx.req.socket ? 'https' : 'http',
    host: ctx.req.headers.host,
    paramHeaders: ctx.paramHeaders,
  });
  // The id of the audit record and of the policy input, as Envoy sends its own: the upstream's logs join them.
  headers['x-request-id'] = ctx.requestId;
  // Its decision spans end once the upstream has the request, not as its forward span starts: one whose client
  // leaves while it waits for an upstream connection is refused after all, and they say so (untraced: none).
  const held = holdUntilSent(ctx.trace, r.onSent);
  const traced = deps.tracing?.forward(ctx, headers, {
    method: r.method,
    origin: deps.upstream.origin,
    path: r.path,
  });
  let upstreamRes: Awaited<ReturnType<Upstream['request']>>;
  try {
    const body = r.body && ctx.parsed ? withOwnTraceContext(r.body, ctx.parsed, headers) : r.body;
    ctx.forwarded = true; // only now: a failure of the sidecar's own rewrite is no upstream failure (below)
    if (body) headers['content-length'] = String(body.length);
    upstreamRes = await deps.upstream.request({
      method: r.method,
      path: r.path,
      headers,
      body,
      signal,
      stream: r.stream,
      onSent: held ? held.sent : r.onSent,
    });
  } catch (err) {
    held?.unsent();
    if (!ctx.forwarded) traced?.(null, 'ERR_INTERNAL'); // nothing went upstream (its own rewrite failed),
    if (!ctx.forwarded) throw err; // and the route's fail-safe answers 500 ERR_INTERNAL
    // None of it reached the upstream (refused busy, no connection, its client gone while it waited for one).
    const unsent = notSent(err);
    if (unsent) ctx.forwarded = false;
    if (signal.aborted) {
      // Our own abort (the client went away), not an upstream failure; before it was sent: refused late.
      traced?.(null, unsent ? 'ERR_CLIENT_CLOSED' : undefined);
      return unsent ? unforwardedStatus(ctx, res) : clientGone(ctx);
    }
    // An upstream failure, no refusal; but none of it ran, so its tokens go back (a gateway charges no such call).
    if (unsent) giveBackTokens(ctx);
    const e = err instanceof UpstreamError ? err : toSidecarError(err);
    const fields = { request_id: ctx.requestId, code: e.code, err: (e.cause as Error | undefined)?.message };
    // A busy refusal is the sidecar shedding load, and an upstream down or too slow fails every call alike:
    // one line each would flood the log (the metrics count them all).
    const outage = e.code === 'ERR_UPSTREAM_UNAVAILABLE' || e.code === 'ERR_UPSTREAM_TIMEOUT';
    if (e.code === 'ERR_UPSTREAM_BUSY') deps.logger.debug(fields, 'upstream request failed');
    else if (outage && deps.outages) deps.outages.failed(fields, 'upstream request failed');
    else deps.logger.warn(fields, 'upstream request failed');
    const status = sendUpstreamError(ctx, res, e);
    traced?.(null, e.code);
    return status;
  }
  ctx.upstreamStatus = upstreamRes.status;
  deps.outages?.succeeded();
  traced?.(upstreamRes.status);
  const tracking = trackSession(ctx, r.method, upstreamRes, deps.sessions, deps.logger);
  const tracked = tracking instanceof Promise ? await tracking : tracking;
  if (tracking instanceof Promise && signal.aborted) {
    // The client left while the binding was claimed: it never hears of the session, which goes at once.
    if (typeof tracked === 'string') deps.sessions?.abandon(tracked);
    upstreamRes.body.on('error', ignore).destroy();
    return clientGone(ctx);
  }
  if (tracked === SESSION_TAKEN) {
    const why = 'the upstream issued a session id already bound to another caller';
    return failReply(ctx, res, deps, upstreamRes, why, `Bad Gateway: ${why}`);
  }
  const issued = tracked;
  // A session the client never hears of (its reply failed before the headers went out) is released at once.
  // `headersSent` turns true at writeHead, but Node hands the headers to the socket only with the first body
  // bytes (or a flush): whether the socket took any bytes for this reply is what tells.
  const socket = ctx.req.socket;
  const bytesBefore = socket.bytesWritten;
  const release = (): void => {
    const headersOut = res.headersSent && socket.bytesWritten > bytesBefore;
    if (issued !== undefined && !headersOut) deps.sessions?.abandon(issued);
  };
  const idleMs = deps.upstream.bodyTimeoutMs;
  const type = replyType(upstreamRes.headers);
  const isSse = isEventStream(type);
  const rewriteSse = isSse && (r.sseRewriter !== undefined || r.filter?.active === true);
  const rewriteJson = !isSse && type.startsWith('application/json') && r.filter?.active === true;
  const filtering = r.filter?.active === true || r.sseRewriter !== undefined;
  // 202 and 204 carry no JSON-RPC response (a body of notifications only is accepted with 202).
  if (filtering && upstreamRes.status < 300 && upstreamRes.status !== 202 && upstreamRes.status !== 204) {
    const why = unfilterable(upstreamRes.headers['content-encoding'], isSse || rewriteJson, type);
    if (why) {
      release();
      return failReply(ctx, res, deps, upstreamRes, why);
    }
  }
  try {
    if (rewriteJson && r.filter) {
      const bytes = await (upstreamRes.whole ??
        readStalling(upstreamRes.body, MAX_REWRITTEN_REPLY_BYTES, idleMs));
      const text = bytes.toString('utf8');
      const rewritten = r.filter.rewriteJson(text);
      if (rewritten === null) {
        release();
        return failReply(ctx, res, deps, upstreamRes, 'the reply is not valid JSON');
      }
      res.writeHead(upstreamRes.status, {
        ...replyHeaders(ctx, upstreamRes.headers, true),
        'content-length': Buffer.byteLength(rewritten),
      });
      res.end(rewritten);
      return upstreamRes.status;
    }
    // A short reply of known length (the usual JSON answer): read whole by the upstream client, written with
    // its headers in one write; a pipe costs a dozen listeners per reply. Usually it has ended already (it
    // came with its headers): then its bytes, without a promise made for them.
    const whole = isSse ? undefined : (upstreamRes.bytes ?? upstreamRes.whole);
    if (whole) {
      const body = whole instanceof Promise ? await whole : whole;
      res.writeHead(upstreamRes.status, replyHeaders(ctx, upstreamRes.headers, false));
      res.end(body);
      return upstreamRes.status;
    }
    res.writeHead(upstreamRes.status, replyHeaders(ctx, upstreamRes.headers, rewriteSse, isSse));
    if (isSse) res.flushHeaders();
    const rewriter = rewriteSse
      ? (r.sseRewriter ?? new SseRewriter(r.filter?.rewriteEvent ?? ((e) => e.data)))
      : undefined;
    const piped = pump(upstreamRes.body, res, rewriter, deps.replies, isSse);
    // An event stream may idle; a JSON reply that stops mid-way holds its client and an upstream connection.
    await (isSse ? piped : watched(upstreamRes.body, idleMs, () => stalled(upstreamRes.body), piped));
    if (!res.writableFinished) ctx.replyCut = true; // the client left mid-reply: the upstream may answer still
  } catch (err) {
    upstreamRes.body.on('error', ignore).destroy();
    const started = res.headersSent;
    ctx.replyCut = true;
    release();
    // The client went away while the reply was read: no upstream failure, and nobody to answer.
    if (signal.aborted) return started ? upstreamRes.status : clientGone(ctx);
    deps.logger.warn(
      { request_id: ctx.requestId, err: (err as Error).message },
      'upstream reply stream ended with an error',
    );
    const e =
      err instanceof UpstreamError && err.code === 'ERR_UPSTREAM_TIMEOUT'
        ? err
        : new UpstreamError('ERR_UPSTREAM_REPLY', 'Bad Gateway: the upstream reply failed');
    deps.tracing?.upstreamFailedLate(e.code);
    const sent = sendUpstreamError(ctx, res, e);
    // Once the upstream's status line went out, that is what the client saw (then a cut connection).
    return started ? upstreamRes.status : sent;
  }
  return upstreamRes.status;
}

/**
 * The client's reply headers: the upstream's (less hop-by-hop, and length when rewritten), then the sidecar's.
 * An event stream gets `X-Accel-Buffering: no` unless the upstream set it (the MCP transport's advice): an
 * nginx in front, the usual Kubernetes ingress, would otherwise hold its events back in a buffer.
 */
function replyHeaders(
  ctx: RequestContext,
  upstream: Record<string, string | string[] | undefined>,
  bodyRewritten: boolean,
  eventStream = false,
): OutgoingHttpHeaders {
  const out = overlayReplyHeaders(clientResponseHeaders(upstream, bodyRewritten), ctx.responseHeaders);
  if (eventStream) out['x-accel-buffering'] ??= 'no';
  return out;
}

/**
 * The status of a forwarded request whose connection closed before its reply began: 499 (its client went
 * away), unless Node's HTTP server closed it, having written an answer of its own first (a malformed request
 * pipelined behind this one: its bare 400, which the client reads as this request's reply). That answer is
 * what is recorded then, its error the request's, saying it was the request behind that Node refused (this
 * one came whole: `connectionClosed`).
 */
function clientGone(ctx: RequestContext): number {
  const e = connectionClosed(ctx.req, 'after the request was forwarded');
  if (e.code === 'ERR_CLIENT_CLOSED') return CLIENT_CLOSED_REQUEST;
  ctx.upstreamError = e;
  ctx.replyCut = true; // the upstream has it all the same: its ids are held for the late answer
  return codeInfo(e.code).status;
}

/** Reads a reply that is no event stream whole (up to `max` bytes), failing it when it pauses for `idleMs`. */
const readStalling = (body: Readable, max: number, idleMs: number): Promise<Buffer> =>
  watched(body, idleMs, () => stalled(body), readWhole(body, max));

/** Fails a reply body the upstream stopped sending: 504 when nothing went to the client yet. */
function stalled(body: Readable): void {
  body.destroy(new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'Upstream MCP server timed out'));
}
