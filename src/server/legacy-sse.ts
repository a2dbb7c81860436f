/**
 * The legacy HTTP+SSE transport (2024-11-05): GET opens the event stream, whose first `endpoint` event
 * names where to POST messages; the sidecar rewrites it to its own messages path and binds the session to
 * the caller who opened it. POSTed messages are decided like any other; a denied request is answered on
 * the stream (where the client waits for it) and the POST gets 202, as the transport expects.
 *
 * A request the upstream accepted (202), or got whole before its POST's client left, is answered later on
 * the stream: until its response has passed, it is pending, and a shutdown waits for the pending replies
 * (within its grace) before ending the streams, as it waits for Streamable HTTP requests in flight.
 *
 * @module
 */

import type { ServerResponse } from 'node:http';
import type { Principal } from '../authn/principal.js';
import { RateLimitError } from '../errors/errors.js';
import { isRecord } from '../mcp/action.js';
import { legacySessionId, ownerKey } from '../mcp/owner-key.js';
import { idKey, ReplyFilter } from '../mcp/reply-filter.js';
import { ServerRequestIds } from '../mcp/server-requests.js';
import { SseRewriter } from '../mcp/sse-transform.js';
import { ToolListIds } from '../mcp/tool-list-ids.js';
import type { RequestContext } from '../pipeline/context.js';
import { runStages } from '../pipeline/pipeline.js';
import { sessionEndedLate, unknownSession } from '../pipeline/stages/session.js';
import { clientSignal } from './client-signal.js';
import { forward } from './forward.js';
import { legacyEndpoint } from './legacy-endpoint.js';
import { taskScope } from './mcp-route.js';
import { asksToSignIn, errorResponse } from './respond.js';
import type { SidecarRuntime } from './runtime.js';
import { startStream } from './stream-guard.js';

/** Replies waited for per session at most (a client can have the upstream owe more; those are not waited for). */
export const MAX_PENDING_REPLIES = 1_024;

interface LegacySession {
  readonly upstreamPath: string;
  readonly owner: string;
  readonly principal: Principal;
  readonly stream: SseRewriter;
  /** Cuts the session's event stream. */
  readonly cut: () => void;
  /** Id keys of requests forwarded whose responses have not come on the stream yet. */
  readonly pending: Set<string>;
  /** The `tools/list` requests it sent: only their replies on the stream teach tool facts. */
  readonly toolLists: ToolListIds;
  /** Ids of the server's requests seen on the stream (`mcp/server-requests.ts`). */
  readonly serverRequests: ServerRequestIds;
}

export class LegacySseRoutes {
  readonly #rt: SidecarRuntime;
  readonly #sessions = new Map<string, LegacySession>();
  readonly #upstreamSsePath: string;
  /** The stream's upstream URL: what a relative endpoint is relative to, as for the transport's clients. */
  readonly #upstreamSseUrl: URL;
  /** Resolved once no session has a pending reply (shutdown). */
  #waiters: (() => void)[] = [];

  constructor(rt: SidecarRuntime, upstreamSsePath: string) {
    this.#rt = rt;
    this.#upstreamSsePath = upstreamSsePath;
    this.#upstreamSseUrl = new URL(upstreamSsePath, rt.forwardDeps.upstream.origin);
  }

  /** Replies the upstream still owes on the open streams. */
  pendingReplies(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.pending.size;
    return n;
  }

  /** Resolves once every request forwarded has had its reply on its stream (or the stream ended). */
  drained(): Promise<void> {
    if (this.pendingReplies() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #settled(): void {
    if (this.#waiters.length === 0 || this.pendingReplies() > 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  /** The open session `sessionId` (its owner key, for the session stage), or undefined. */
  session(sessionId: string): LegacySession | undefined {
    return this.#sessions.get(sessionId);
  }

  async openStream(ctx: RequestContext, res: ServerResponse): Promise<void> {
    const rt = this.#rt;
    const req = ctx.req;
    const client = clientSignal(res);
    const result = await runStages(rt.pipelines.bodiless, ctx, client, rt.observeStage);
    if (result.kind === 'deny') {
      client.release();
      rt.deny(ctx, res, result.error);
      return;
    }
    const principal = ctx.principal as Principal;
    const ended = startStream(rt, { req, res, client, transport: 'sse', opener: principal });
    if (ended instanceof RateLimitError) {
      client.release();
      rt.deny(ctx, res, ended);
      return;
    }
    let sessionId: string | undefined;
    /** This stream's own session (an upstream repeating a session id must not make it another's). */
    let own: LegacySession | undefined;
    // Every reply of the session comes on this stream: any response carrying a list is pruned.
    const filter = new ReplyFilter(new Map(), true, rt.visibleFor(ctx, principal, true), rt.annotations, {
      timer: () => rt.filterSpan(ctx),
      tasks: taskScope(rt, ctx, true),
      notifications: rt.streamNotifications(ctx, principal),
      replies: (key) => {
        if (own?.pending.delete(key)) this.#settled();
      },
      sent: (msg) => own?.serverRequests.note(msg),
      answered: (id) => own?.toolLists.answered(id) ?? false,
    });
    const stream: SseRewriter = new SseRewriter((event) => {
      if (event.event === 'endpoint') {
        // The first endpoint names the stream's session; an upstream sending another (a second session, or
        // one the sidecar cannot read) gets nothing passed on: the client must never learn the upstream's
        // own URL, which could take its messages past the sidecar, nor hold a session left behind.
        if (own) return null;
        const endpoint = legacyEndpoint(event.data, this.#upstreamSseUrl);
        if (!endpoint?.sessionId) {
          rt.forwardDeps.logger.warn(
            { request_id: ctx.requestId },
            'legacy SSE endpoint event without a session id the sidecar can read; not passed on',
          );
          return null;
        }
        if (this.#sessions.has(endpoint.sessionId)) {
          // An upstream issuing an open session's id again (a broken id generator): binding it here would
          // hand this caller the other stream's session, its messages landing there. The session stays with
          // its stream; this one is cut (its 200 went out with the stream's start).
          rt.forwardDeps.logger.warn(
            { request_id: ctx.requestId },
            'legacy SSE endpoint names a session another stream holds; the stream is cut',
          );
          queueMicrotask(() => res.destroy());
          return null;
        }
        sessionId = endpoint.sessionId;
        own = {
          upstreamPath: endpoint.path,
          owner: ownerKey(principal),
          principal,
          stream,
          cut: () => res.destroy(),
          pending: new Set(),
          serverRequests: new ServerRequestIds(),
          toolLists: new ToolListIds(() => rt.annotations.generation),
        };
        this.#sessions.set(sessionId, own);
        return `${rt.config.server.legacyMessagesPath}?sessionId=${encodeURIComponent(sessionId)}`;
      }
      return filter.rewriteEvent(event);
    });
    try {
      const status = await forward(ctx, res, rt.forwardDeps, {
        method: 'GET',
        path: this.#upstreamSsePath,
        sseRewriter: stream,
        signal: client,
      });
      // Counted and traced like a Streamable HTTP stream once it ends (before, only refusals were).
      rt.requestDone(ctx, status);
    } finally {
      ended();
      client.release();
      if (sessionId && this.#sessions.get(sessionId) === own) this.#sessions.delete(sessionId);
      this.#settled();
    }
  }

  async postMessage(ctx: RequestContext, res: ServerResponse): Promise<void> {
    const rt = this.#rt;
    const req = ctx.req;
    const sessionId = legacySessionId(req.url) ?? '';
    const client = clientSignal(res);
    const result = await runStages(rt.pipelines.post, ctx, client, rt.observeStage);
    // Looked up again after the stages (the body may have taken seconds): the stream the session stage saw
    // may have ended since and an upstream reusing ids given the id to another stream (another caller's, or
    // one of another anonymous caller, whose owner key is the same). Only that same session takes the POST.
    const found = this.#sessions.get(sessionId);
    const session = found !== undefined && found === ctx.legacySession ? found : undefined;
    if (result.kind === 'deny' || !session) client.release();
    if (result.kind === 'deny') {
      // A policy denial is answered where the client waits for answers: on the session's stream (the session
      // stage, before the policy, made sure the session is the caller's). An anonymous caller gets the 401
      // challenge on the POST instead (respond.ts); a step-up (a token lacking scopes the policy names) stays
      // on the stream, with data.scope: the legacy clients cannot follow a 403 on their POST.
      if (result.error.reason === 'policy' && ctx.principal && !asksToSignIn(ctx)) {
        if (session) {
          const out = errorResponse(ctx, result.error, rt.resourceMetadataUrl(req), rt.requiredScopes);
          const answers = Array.isArray(out.body) ? out.body : [out.body];
          if (answers.every((a) => session.stream.inject(JSON.stringify(a)))) {
            res.writeHead(202, { ...ctx.responseHeaders, 'content-type': 'text/plain' }).end('Accepted');
            rt.finish(ctx, 202, result.error);
            return;
          }
          // Its client reads nothing (its backlog is full): a stream nobody reads is cut.
          if (!session.stream.destroyed && !session.stream.writableEnded) {
            rt.logger.info('legacy SSE stream cut: its client left 1 MiB unread');
            session.cut();
          }
        }
        // No stream takes the answer (the session ended while the stages ran, or its stream is cut). The
        // denial's 200 would go unread (a legacy client takes any 2xx for "accepted, the answer comes on the
        // stream": the SDKs' SSE clients check the status only) and the call wait for its timeout: the
        // session's end is answered instead (404, as for an allowed call), which fails the call at once.
        rt.deny(ctx, res, unknownSession());
        return;
      }
      rt.deny(ctx, res, result.error);
      return;
    }
    // Another caller's session was refused by the session stage; this one ended (or went to another caller's
    // stream) while the stages ran: decided, but not forwarded, and audited so.
    if (!session) {
      rt.deny(ctx, res, sessionEndedLate(ctx));
      return;
    }
    const answers = session.serverRequests.answered(ctx.parsed);
    const lists = session.toolLists.sent(ctx.parsed?.messages ?? [], ctx.listRequests);
    // Pending from before the upstream sees them: its reply may come on the stream before its 202 here.
    // A cancelled request gets no reply ("SHOULD NOT send a response"): no longer waited for.
    const requested: string[] = [];
    const cancelled = new Set<string>();
    for (const m of ctx.parsed?.messages ?? []) {
      if (m.kind === 'request') requested.push(idKey(m.id));
      const cancel = m.kind === 'notification' && m.method === 'notifications/cancelled';
      const id = cancel && isRecord(m.params) ? m.params.requestId : undefined;
      if (typeof id === 'string' || typeof id === 'number') cancelled.add(idKey(id));
    }
    for (const k of cancelled) session.pending.delete(k);
    /** The keys this POST made pending (not those another POST had, nor those over the cap). */
    const added: string[] = [];
    for (const k of requested) {
      if (cancelled.has(k) || session.pending.has(k) || session.pending.size >= MAX_PENDING_REPLIES) continue;
      session.pending.add(k);
      added.push(k);
    }
    let accepted = false;
    /** Whether the upstream got the whole POST: from then on it may answer on the stream. */
    let sent = false;
    try {
      const status = await forward(ctx, res, rt.forwardDeps, {
        method: 'POST',
        path: session.upstreamPath,
        ...(ctx.body ? { body: ctx.body } : {}),
        // The transport answers on the stream; an upstream answering in the POST body is pruned as well.
        filter: new ReplyFilter(ctx.listRequests, true, rt.visibleFor(ctx), rt.annotations, {
          tasks: taskScope(rt, ctx, true),
        }),
        signal: client,
        onSent: () => {
          sent = true;
        },
      });
      // The transport's 202 (or a 204): the reply is owed on the stream, though the POST's own reply failed
      // or its client left before it was passed on. An upstream answering in the POST's body (200) has
      // answered already. A POST whose connection closed once the upstream had it, before its answer, may
      // still be answered on the stream, which the client reads on another connection: it is waited for too,
      // whether its client left (499) or Node's HTTP server closed the connection with an answer of its own
      // (a 400 to a malformed request pipelined behind it: `clientGone` in forward.ts).
      const upstream = ctx.upstreamStatus;
      accepted =
        status === 202 ||
        status === 204 ||
        upstream === 202 ||
        upstream === 204 ||
        (sent && client.aborted && upstream === undefined);
      rt.requestDone(ctx, status);
    } finally {
      // Never forwarded (its turn never came, its client left first): the server still awaits its answers.
      if (answers && !ctx.forwarded) session.serverRequests.unanswered(answers);
      // Refused or failed: no reply comes on the stream for these.
      if (!accepted) for (const k of added) session.pending.delete(k);
      if (!sent) session.toolLists.unsent(lists);
      this.#settled();
      client.release();
      ctx.release?.();
    }
  }

  /** Ends all open streams (shutdown). */
  closeAll(): void {
    for (const s of this.#sessions.values()) s.stream.end();
    this.#sessions.clear();
    this.#settled();
  }
}
