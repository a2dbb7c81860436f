/**
 * HTTP/1.1 pipelining: the requests of one connection that wait behind the one being answered. Node parses a
 * whole pipeline at once and hands every request to the handler at once, each reply queued (no socket yet)
 * until the one before it has finished. nginx and Envoy answer a pipeline one request at a time; here the
 * requests behind are checked meanwhile (body, credentials, decision), but each goes to the upstream only
 * once its reply has the connection ({@link awaitTurn}). A reply ahead may close the connection, decided only
 * late (a body over the limit, a streamed reply to HTTP/1.0, the last reply of a shutdown): the requests
 * behind it are then never answered, and must not have run (RFC 9112 §9.6), or a client retrying them
 * elsewhere runs them twice.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { CLIENT_CLOSED_REQUEST, CONNECTION_CLOSED } from '../errors/codes.js';
import { connectionClosed, RequestError } from '../errors/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { refuseLate } from '../pipeline/stages/late-refusal.js';

/**
 * Requests of one connection that may wait behind the one being answered and still be started: one
 * connection could otherwise have thousands checked together. Clients that pipeline at all keep a few
 * requests in flight.
 */
export const MAX_PIPELINED_REQUESTS = 32;

/** Connections closing once a reply already started is out: the requests pipelined behind it never run. */
const closingAfter = new WeakSet<Socket>();

/** Nothing pipelined on `socket` after now may start: the reply being made closes it. */
export function closeAfterThis(socket: Socket): void {
  closingAfter.add(socket);
}

/** Whether a request arriving on `socket` comes behind a reply that closes it (so it must not run). */
export function behindClosingReply(socket: Socket): boolean {
  return closingAfter.has(socket);
}

export function pipelineTooDeep(): RequestError {
  return new RequestError(
    'ERR_SERVER_BUSY',
    `Service Unavailable: more than ${MAX_PIPELINED_REQUESTS} requests wait for their replies on this connection (HTTP/1.1 pipelining); the connection is closed after this reply: send the rest again, on more connections or after their replies`,
    { headers: { 'retry-after': '1' } },
  );
}

/** The last reply of a connection: the last one queued behind `current` (pipelined), else `current`. */
export function lastReplyOn(socket: Socket, current: ServerResponse): ServerResponse {
  let last = current;
  for (const res of queuedOn.get(socket)?.keys() ?? []) last = res;
  return last;
}

/** The replies queued on each connection behind the one it is writing (HTTP/1.1 pipelining), and their ends. */
const queuedOn = new WeakMap<Socket, Map<ServerResponse, () => void>>();
/** Replies that waited for their connection behind another. */
const waited = new WeakSet<ServerResponse>();
/** Connections (with replies queued) that their client ended or reset before the sidecar ended them. */
const endedByClient = new WeakSet<Socket>();

/**
 * Ends `res`, a reply waiting for its connection (pipelined), with a `close` when the connection closes
 * before it was given it: one `close` listener per connection, whatever the depth of its pipeline. Returns
 * how many replies now wait on the connection, this one included (0 when it is closed already).
 */
export function closeWithConnection(req: IncomingMessage, res: ServerResponse): number {
  let closed = false;
  const end = () => {
    if (closed) return;
    res.destroy();
    // Node 24 closes a reply destroyed without a socket itself, a tick later; Node 20 never does.
    setImmediate(() => {
      if (!closed) res.emit('close');
    });
  };
  const socket = req.socket;
  if (socket.destroyed) {
    queueMicrotask(end);
    return 0;
  }
  let queued = queuedOn.get(socket);
  if (!queued) {
    const map = new Map<ServerResponse, () => void>();
    queuedOn.set(socket, map);
    socket.once('close', () => endQueued(socket));
    // Ahead of Node's own `end` listener, which answers a client's FIN by ending the connection too. A FIN
    // (or a reset) after the sidecar ended it is the client's answer to that.
    const byClient = () => {
      if (!socket.writableEnded) endedByClient.add(socket);
    };
    socket.prependOnceListener('end', byClient);
    socket.prependOnceListener('error', byClient);
    queued = map;
  }
  const mine = queued;
  mine.set(res, end);
  waited.add(res);
  res.once('close', () => {
    closed = true;
    mine.delete(res);
  });
  // Given the connection at its turn: from then on Node closes it as any other reply. One destroyed while it
  // waited (a stream re-check cut it) writes nothing: the replies behind it could never be sent, so the
  // connection closes now. Node 20 does so itself; Node 24 hands the connection over and leaves it open for
  // ever, every request behind waiting for a turn that never comes. Ended, not destroyed: the end of the reply
  // ahead (a stream's last chunk) may still be in the socket's buffer.
  res.once('socket', (socket: Socket) => {
    mine.delete(res);
    if (res.destroyed) socket.end();
  });
  return mine.size;
}

/**
 * Ends every reply still waiting for its turn on `socket`, as its connection closing would: the end of a
 * shutdown, when the connection is about to be cut and a request forwarded at its turn (an event stream ended
 * ahead of it) could never be answered. The reply ahead still ends cleanly; the connection closes after it.
 */
export function endQueued(socket: Socket): void {
  const queued = queuedOn.get(socket);
  if (!queued) return;
  const ends = [...queued.values()];
  queued.clear();
  for (const e of ends) e();
}

/**
 * Resolves true once `res` has its connection — at once unless it is queued behind another reply — or false
 * when it closed or was destroyed first (its connection closed after a reply ahead, the client went, a stream
 * re-check cut it): then its request must not be forwarded, as its reply could never be sent.
 */
export function awaitTurn(res: ServerResponse): boolean | Promise<boolean> {
  if (res.socket) return true;
  if (res.destroyed || res.closed) return false;
  return new Promise<boolean>((resolve) => {
    const onSocket = () => {
      res.off('close', onClose);
      // Node 20 hands the connection to a reply destroyed while it waited, which closes it (above).
      resolve(!res.destroyed);
    };
    const onClose = () => {
      res.off('socket', onSocket);
      resolve(false);
    };
    res.once('socket', onSocket);
    res.once('close', onClose);
  });
}

/** Audit reason of a call whose connection the sidecar closed before its turn. */
export const CONNECTION_CLOSED_REASON =
  'the connection closed before its turn: a reply ahead of it (HTTP/1.1 pipelining) closed it';

/** Audit reason of a call whose connection Node's HTTP server answered and closed before it reached the upstream. */
export const NODE_ANSWERED_REASON =
  "Node's HTTP server answered on the connection and closed it before the request was forwarded";

/** Audit reason of a call whose client went away after its decision, before it reached the upstream. */
export const CLIENT_GONE_REASON = 'the client went away before the request was forwarded';

/**
 * The status of a request whose reply can never be sent, found before it reached the upstream: 499 when its
 * client closed the connection (while its stages ran, before its pipelined turn, while it waited for an
 * upstream connection); 444 when it waited its turn behind another reply and the sidecar closed the
 * connection after that one (a 413, a streamed reply to HTTP/1.0, a cut reply, a shutdown). Either way it is
 * refused after its decision (`refuseLate`: audited as a denial, its rate-limit tokens given back), as an API
 * gateway does for a call it never sent: nothing of it ran, and a client sending it again (on another
 * connection) must not pay twice.
 */
export function unforwardedStatus(ctx: RequestContext, res: ServerResponse): number {
  if (!waited.has(res) || endedByClient.has(res.req.socket)) {
    // Node's HTTP server may have closed the connection with its own answer (to a malformed request pipelined
    // behind this one, read by the client as this one's reply): recorded with that status, not as a leaving client.
    const e = connectionClosed(res.req, 'before the request was forwarded');
    if (e.code !== 'ERR_CLIENT_CLOSED') {
      refuseLate(ctx, e, NODE_ANSWERED_REASON);
      return e.status;
    }
    refuseLate(ctx, e, CLIENT_GONE_REASON);
    return CLIENT_CLOSED_REQUEST;
  }
  const err = new RequestError(
    'ERR_CONNECTION_CLOSED',
    'Connection Closed: the connection closed after the reply ahead of this request, before its turn',
  );
  refuseLate(ctx, err, CONNECTION_CLOSED_REASON);
  return CONNECTION_CLOSED;
}
