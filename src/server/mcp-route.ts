/**
 * The Streamable HTTP endpoint: POST carries JSON-RPC (decided message by message), GET opens the
 * server-to-client stream, DELETE ends a session. Each runs its stage list; a deny is answered by the
 * one error mapping, anything allowed is forwarded and its reply streamed back (list replies pruned).
 *
 * @module
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { RateLimitError, RequestError } from '../errors/errors.js';
import { type InFlightIds, LATE_REPLY_GRACE_MS, type ResumedStream } from '../mcp/in-flight-ids.js';
import { filterActive, ReplyFilter, type TaskScope } from '../mcp/reply-filter.js';
import { opensListenStream } from '../mcp/subscriptions.js';
import type { RequestContext } from '../pipeline/context.js';
import { runStages } from '../pipeline/pipeline.js';
import { refuseLate } from '../pipeline/stages/late-refusal.js';
import { clientSignal } from './client-signal.js';
import { forward } from './forward.js';
import type { SidecarRuntime } from './runtime.js';
import { startStream } from './stream-guard.js';

/**
 * `longLived`, when given, is called once a POST turns out to open a long-lived stream (a
 * `subscriptions/listen`): a shutdown does not wait for it as for a request (it ends such streams cleanly).
 */
export async function handleMcp(
  rt: SidecarRuntime,
  ctx: RequestContext,
  res: ServerResponse,
  path: string,
  longLived?: () => void,
): Promise<void> {
  const req = ctx.req;
  const method = req.method ?? 'GET';
  if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
    // A foreign Origin is refused 403 whatever the method (MCP: "on all incoming connections").
    const origin = await runStages(rt.pipelines.unserved, ctx, clientSignal(res), rt.observeStage);
    if (origin.kind === 'deny') {
      rt.deny(ctx, res, origin.error);
      return;
    }
    ctx.responseHeaders.allow = 'GET, POST, DELETE';
    rt.deny(ctx, res, new RequestError('ERR_REQUEST_METHOD', `Method Not Allowed: ${method.slice(0, 10)}`));
    return;
  }
  const client = clientSignal(res);
  let ended: (() => void) | undefined;
  /** The server's requests this body answers, answered from the moment it is forwarded. */
  let answers: string[] | undefined;
  try {
    const stages = method === 'POST' ? rt.pipelines.post : rt.pipelines.bodiless;
    const result = await runStages(stages, ctx, client, rt.observeStage);
    if (result.kind === 'deny') {
      rt.deny(ctx, res, result.error);
      return;
    }
    // Forwarded: its responses to the server's requests are their answers (a second one is charged), unless it
    // never reaches the upstream after all (below).
    answers = ctx.serverRequests?.answered(ctx.parsed);
    // A GET stream, or a POST in a session, can carry the reply to another request: prune every list.
    const anyList = method === 'GET' || (method === 'POST' && req.headers['mcp-session-id'] !== undefined);
    // A GET stream, or a 2026-07-28 `subscriptions/listen` (whose reply is the stream that replaces it), is
    // counted against the caller's open streams, re-checks its caller while open and uses the upstream's
    // stream pool; their resource updates reach the caller only for resources the policy allows them.
    const listen = method === 'POST' && opensListenStream(ctx.parsed?.messages ?? []);
    if (listen) longLived?.();
    const streaming = method === 'GET' || listen;
    const tasks = taskScope(rt, ctx, anyList);
    const notifications = streaming && ctx.principal ? rt.streamNotifications(ctx, ctx.principal) : undefined;
    // The server's requests seen on a session's reply streams: the client's answers to them pass free.
    const noted = ctx.serverRequests;
    // A POST in a session (its ids claimed): the responses its reply carries are noted, and a request left
    // without one may still be answered upstream (below).
    const owed = ctx.release ? requestIds(ctx) : undefined;
    // A session's GET resuming a stream: the answers it carries are owed no more.
    const resumed = ctx.sessionIds && !owed ? resumedStream(ctx.sessionIds, req.headers) : undefined;
    // A stateless POST without a list or task request (the hot path) has no reply to rewrite: no filter.
    const filter = filterActive(ctx.listRequests, anyList, tasks, notifications)
      ? new ReplyFilter(
          ctx.listRequests,
          anyList,
          rt.visibleFor(ctx, ctx.principal, method === 'GET'),
          rt.annotations,
          {
            timer: () => rt.filterSpan(ctx),
            tasks,
            notifications,
            sent: noted && ((msg) => noted.note(msg)),
            answered: owed ? (id) => noteAnswered(owed, id) : resumed && answeredOn(resumed),
            untaught: ctx.untaught,
            session: sessionOf(req.headers['mcp-session-id']),
          },
        )
      : undefined;
    if (streaming && ctx.principal) {
      const stream = startStream(rt, {
        req,
        res,
        client,
        transport: 'streamable-http',
        opener: ctx.principal,
      });
      if (stream instanceof RateLimitError) {
        rt.deny(ctx, res, refuseLate(ctx, stream, 'too many event streams open'));
        return;
      }
      ended = stream;
    }
    const status = await forward(ctx, res, rt.forwardDeps, {
      method,
      path: upstreamPath(rt.upstreamMcpPath, req.url ?? path),
      body: ctx.body,
      filter,
      signal: client,
      // Not on the capped POST pool: an open listen would hold one of its connections for its whole life.
      stream: listen,
    });
    // A reply that ended without answering each of its requests (an upstream closing its event stream early,
    // as SSE polling does) leaves them to be answered later, to whichever POST last sent their ids: held as a
    // cut-off request's are (in-flight-ids.ts), or the late answer to a call would come on a `tools/list`
    // reusing its id, and be learnt as the list. An upstream's refusal (4xx) took none of them.
    if (owed !== undefined && owed.size > 0 && (status < 400 || status >= 500)) ctx.replyCut = true;
    // Cut off, only a GET resuming this reply's stream (from its last event) can tell of the answers it owes.
    if (owed !== undefined && filter?.lastEventId !== undefined) ctx.resumeAt = filter.lastEventId;
    // A resumed GET that passed events is resumed (cut off again) from its last: what it still owes, there.
    if (resumed !== undefined && filter?.lastEventId !== undefined) resumed.passedTo(filter.lastEventId);
    rt.requestDone(ctx, status);
  } finally {
    if (answers && !ctx.forwarded) ctx.serverRequests?.unanswered(answers);
    ended?.();
    client.release();
    // Normally released when the request finishes (maybe later); this covers an unexpected error. One thrown
    // after the upstream had the request leaves its ids owed an answer that may still come: held as a cut-off
    // request's are (a no-op when the request finished: released once).
    ctx.release?.(ctx.forwarded === true ? LATE_REPLY_GRACE_MS : 0, ctx.resumeAt);
  }
}

/**
 * The caller's tasks for the reply filter: none when no reply can create or list tasks (a stateless POST
 * without a task request, the hot path), or for a caller not authenticated (the stages refused it).
 */
export function taskScope(rt: SidecarRuntime, ctx: RequestContext, anyReply: boolean): TaskScope | undefined {
  const owners = rt.forwardDeps.tasks;
  if (!owners || !ctx.principal || !(anyReply || ctx.taskRequests)) return undefined;
  if (!ctx.taskRequests) return { owners, caller: ctx.principal };
  const created = (key: string, taskId: string): void => {
    ctx.createdTasks ??= new Map();
    ctx.createdTasks.set(key, taskId);
  };
  return { owners, caller: ctx.principal, pending: ctx.taskRequests, created };
}

/** The ids of a body's requests, as text (`1` and `"1"` one id, as in-flight-ids.ts holds them). */
function requestIds(ctx: RequestContext): Set<string> | undefined {
  let ids: Set<string> | undefined;
  for (const m of ctx.parsed?.messages ?? []) {
    if (m.kind !== 'request') continue;
    ids ??= new Set();
    ids.add(String(m.id));
  }
  return ids;
}

/** A response under `id` passed: its request is owed nothing more. False: it answers no legacy `tools/list`. */
function noteAnswered(owed: Set<string>, id: unknown): boolean {
  if (typeof id === 'string' || typeof id === 'number') owed.delete(String(id));
  return false;
}

/**
 * On a session's GET stream resuming a POST's stream cut off early (as SSE polling does) from its
 * `Last-Event-ID`, each answer passing is owed no more: a request cut off under its id, whose reply's last event
 * that was, no longer makes a POST reusing it untaught, and is freed (in-flight-ids.ts). Not on a stream resumed
 * elsewhere: an older request's answer under the same id, replayed from its own stream, must not forget it.
 */
function resumedStream(
  ids: Pick<InFlightIds, 'resumed'>,
  headers: IncomingHttpHeaders,
): ResumedStream | undefined {
  const session = sessionOf(headers['mcp-session-id']);
  const resumedFrom = headers['last-event-id'];
  if (session === undefined || typeof resumedFrom !== 'string') return undefined;
  return ids.resumed(session, resumedFrom);
}

/** The reply filter's `answered` for a resumed GET (false: it answers no legacy `tools/list`). */
function answeredOn(stream: ResumedStream): (id: unknown) => boolean {
  return (id) => {
    if (typeof id === 'string' || typeof id === 'number') stream.answered(String(id));
    return false;
  };
}

/** The `Mcp-Session-Id` a request names (Node joins a field sent twice into one value). */
function sessionOf(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' ? header : undefined;
}

/** The upstream path keeps the client's query string. */
export function upstreamPath(basePath: string, requestUrl: string): string {
  const q = requestUrl.indexOf('?');
  return q === -1 ? basePath : basePath + requestUrl.slice(q);
}

export type { RequestContext };
