/**
 * The upstream MCP server client: undici keep-alive pools with connect and header timeouts, each request sent
 * through the sidecar's own dispatch handler (`reply-handler.ts`): a short reply of known length that is no
 * event stream is read whole there, timed by `bodyTimeoutMs` between its bytes, and anything else is
 * streamed. undici's body timeout is off (SSE may stay open, and the kind of reply is only known from its
 * headers): `forward` times the pauses of a streamed reply that is no event stream itself. GET requests are the long-lived event streams (Streamable
 * HTTP `GET /mcp`, legacy `GET /sse`) and get a pool of their own without a connection cap: on the capped
 * pool each open stream held one of its `connections` for its whole life, so a caller opening that many
 * streams made every POST wait for a free connection, with no timeout. A 2026-07-28 `subscriptions/listen`
 * POST, whose reply is such a stream, goes there too (`stream`). Connection failures become
 * `ERR_UPSTREAM_UNAVAILABLE` (502), replies that are not readable HTTP `ERR_UPSTREAM_REPLY` (502) and header
 * timeouts `ERR_UPSTREAM_TIMEOUT` (504). While every pooled connection is busy, at most `maxPendingRequests`
 * POSTs and DELETEs wait for one (the header timeout only starts once a request is sent; one whose client left
 * no longer counts); more are refused at once with `ERR_UPSTREAM_BUSY` (503), as Envoy's pending-request
 * circuit breaker does.
 *
 * @module
 */
import { Pool, errors as undiciErrors } from 'undici';
import { UpstreamError } from '../errors/errors.js';
import { dispatchReply, type ReplySignal, RequestNotSent } from './reply-handler.js';
import { ignore, type UpstreamReply } from './upstream-reply.js';

export interface UpstreamOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  /** Longest pause in a reply body that is no event stream (the reply handler's, then `forward`'s); 0 or absent: none. */
  readonly bodyTimeoutMs?: number;
  readonly connections: number;
  /** POST/DELETE requests that may wait for a free connection; beyond, `ERR_UPSTREAM_BUSY` (default: no bound). */
  readonly maxPendingRequests?: number;
}

/**
 * Idle keep-alive of the stream pool's connections: long enough for a client that reconnects its stream
 * to reuse one, short enough that a burst of streams does not leave as many idle sockets behind.
 */
const STREAM_KEEP_ALIVE_MS = 4_000;

/**
 * Idle keep-alive of the POST pool's connections when the upstream names none (`Keep-Alive: timeout=…`,
 * which undici follows less 2 s): under the 5 s after which uvicorn and hypercorn, which name none, close an
 * idle connection. Longer (it was 30 s), a request sent as the upstream closes its idle connection meets the
 * close and fails with 502, the upstream never having seen it; a POST is not retried (a tools/call must not
 * run twice), so the sidecar lets its idle connections go first.
 */
const POOL_KEEP_ALIVE_MS = 4_000;

export interface UpstreamRequest {
  /** `GET` opens an event stream and goes to the uncapped stream pool; the others to the capped pool. */
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, e.g. `/mcp` or `/messages?sessionId=…`. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  /** Aborts the request: an AbortSignal, or an EventEmitter with `aborted` that emits `abort` (undici takes both). */
  readonly signal?: ReplySignal;
  /**
   * A POST whose reply is a long-lived event stream (the 2026-07-28 `subscriptions/listen`): the uncapped
   * stream pool, as a GET stream, since it would hold a capped connection for as long as it stays open.
   */
  readonly stream?: boolean;
  /** Called once the whole request has been written to the upstream (it may act on it from then on). */
  readonly onSent?: () => void;
}

export type UpstreamResponse = UpstreamReply;

/**
 * Replies to POSTs and DELETEs up to this long (by their Content-Length) that are no event streams are read
 * whole before they are passed on: one write to the client with the headers, and no stream per reply.
 */
export const WHOLE_REPLY_BYTES = 64 * 1024;

export class Upstream {
  /** POST and DELETE: short exchanges (an SSE reply to a POST ends with its last answer). */
  readonly #pool: Pool;
  /** GET event streams: one connection each for as long as the stream is open, so no cap. */
  readonly #streams: Pool;
  readonly #maxPending: number;
  readonly #connections: number;
  /**
   * POSTs and DELETEs handed to the pool whose exchange has not ended: never fewer than the connections
   * they hold plus those waiting. undici's own count ({@link Upstream.#wouldWaitPastLimit}) walks every
   * connection and allocates, about 2 µs a request with 64 of them, so it is read only once this says every
   * connection may be taken.
   */
  #pooled = 0;
  /**
   * POSTs and DELETEs given up unsent while undici still holds them: their client left while they waited for a
   * connection. undici has no way to take one out of its queue; it drops each unwritten at its turn. Until
   * then they are in its counts, and must not count as waiting ({@link Upstream.#wouldWaitPastLimit}).
   */
  #dropped = 0;
  readonly #unpooled = (dropped: boolean): void => {
    this.#pooled--;
    if (dropped) this.#dropped--;
  };
  readonly #onDropped = (): void => {
    this.#dropped++;
  };
  readonly origin: URL;
  /** Longest pause in a reply body that is no event stream, 0 for none: undici's own `bodyTimeout` cannot tell. */
  readonly bodyTimeoutMs: number;

  constructor(opts: UpstreamOptions) {
    this.origin = new URL(opts.url);
    this.#maxPending = opts.maxPendingRequests ?? Number.POSITIVE_INFINITY;
    this.#connections = opts.connections;
    this.bodyTimeoutMs = opts.bodyTimeoutMs ?? 0;
    const common = {
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: 0,
      pipelining: 1,
    } as const;
    this.#pool = new Pool(this.origin.origin, {
      ...common,
      connections: opts.connections,
      keepAliveTimeout: POOL_KEEP_ALIVE_MS,
    });
    this.#streams = new Pool(this.origin.origin, {
      ...common,
      connections: null,
      keepAliveTimeout: STREAM_KEEP_ALIVE_MS,
    });
  }

  /**
   * The reply at its headers; rejects with an {@link UpstreamError}. Not `async`: the one promise is the
   * dispatch's own, its failures mapped as they come (an `async` wrapper costs a promise and a turn a call).
   */
  request(r: UpstreamRequest): Promise<UpstreamResponse> {
    const pooled = r.method !== 'GET' && r.stream !== true;
    // Only the capped pool queues: a request would wait there, with no timeout, behind every busy one.
    if (pooled && this.#pooled >= this.#connections && this.#wouldWaitPastLimit()) {
      return Promise.reject(
        new UpstreamError(
          'ERR_UPSTREAM_BUSY',
          'Service Unavailable: the upstream MCP server is busy (every connection in use, too many waiting); retry shortly',
          { headers: { 'retry-after': '1' } },
        ),
      );
    }
    if (pooled) this.#pooled++;
    const request = { method: r.method, path: r.path, headers: r.headers, body: r.body ?? null };
    return dispatchReply(
      pooled ? this.#pool : this.#streams,
      request,
      {
        wholeMax: WHOLE_REPLY_BYTES,
        idleMs: this.bodyTimeoutMs,
        signal: r.signal ?? null,
        done: pooled ? this.#unpooled : ignore,
        onDropped: pooled ? this.#onDropped : undefined,
        onSent: r.onSent,
      },
      toUpstreamError,
    );
  }

  /**
   * Whether a POST or DELETE sent now would wait for a connection with `maxPendingRequests` already waiting.
   * undici's `queued` counts only requests that found no connection; with a limit of 0 the request must
   * also be one that would find none (every connection holds a request), or an idle pool refused them all.
   * Requests dropped unsent (their client left) are in undici's counts until their turn, but wait for nothing:
   * left out, live calls are not refused for them. One may also sit in the slot of a connection being opened
   * (undici's `pending` beyond `queued`): only those that cannot be there are left out, so the count of those
   * waiting is never too low (exact once no connection is being opened). At most `maxPendingRequests` of them
   * are left out: each holds its headers and body in undici's queue, and a caller that leaves each call as it
   * is queued (its tokens given back) would otherwise grow that queue without bound while the upstream stalls.
   */
  #wouldWaitPastLimit(): boolean {
    if (this.#maxPending === Number.POSITIVE_INFINITY) return false;
    const s = this.#pool.stats;
    const dropped =
      this.#dropped > 0 ? Math.min(this.#maxPending, Math.max(0, this.#dropped - (s.pending - s.queued))) : 0;
    const queued = s.queued - dropped;
    if (queued < this.#maxPending) return false;
    return queued > 0 || s.size - dropped >= this.#connections;
  }

  /** Refuses new requests and closes every connection once its request (or stream) has ended. */
  async close(): Promise<void> {
    await Promise.all([this.#pool.close(), this.#streams.close()]);
  }

  /** Ends every connection now, open streams included (used after the shutdown grace period). */
  async destroy(): Promise<void> {
    await Promise.all([this.#pool.destroy(), this.#streams.destroy()]);
  }
}

/**
 * Whether `err`, from {@link Upstream.request}, says none of the request was written: the upstream never saw
 * it. Refused busy (`ERR_UPSTREAM_BUSY`), its connection never opened (502: refused, timed out; no bytes
 * went out), or its signal fired while it waited for a pooled connection (or before it was dispatched). A
 * failure once undici gave it a connection (a reset, a close mid-request, a timeout) is not: it may have.
 */
export function notSent(err: unknown): boolean {
  return (
    err instanceof UpstreamError && (err.code === 'ERR_UPSTREAM_BUSY' || err.cause instanceof RequestNotSent)
  );
}

export function toUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'Upstream MCP server timed out', { cause: err });
  }
  // The upstream answered, but not with HTTP undici can read (duplicate or conflicting lengths, headers
  // over 16 KiB, …): a bad reply, not an upstream that is down.
  if (
    err instanceof undiciErrors.HTTPParserError ||
    err instanceof undiciErrors.HeadersOverflowError ||
    err instanceof undiciErrors.ResponseContentLengthMismatchError
  ) {
    return new UpstreamError('ERR_UPSTREAM_REPLY', 'Bad Gateway: the upstream reply is malformed', {
      cause: err,
    });
  }
  return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'Upstream MCP server is unavailable', { cause: err });
}
