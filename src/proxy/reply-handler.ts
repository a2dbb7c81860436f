/**
 * The undici dispatch handler of the capped POST/DELETE pool. undici's `request()` wraps every reply in a
 * body stream, an async resource and an abort listener, and a reader of that stream adds half a dozen more
 * listeners and a timer: together the largest part of what one forwarded call costs the sidecar. The usual
 * reply is a short JSON answer of known length, so this handler keeps such a reply's bytes as they arrive
 * and hands them over whole ({@link UpstreamReply.whole}); a reply that is an event stream, longer, or of
 * unknown length becomes a stream, with undici's backpressure (a full stream pauses the connection).
 *
 * A reply read whole that pauses for `idleMs` is failed with `ERR_UPSTREAM_TIMEOUT`; a stream's pauses are
 * the reader's to time. The request is aborted when `signal` fires (the client went away) or when its
 * stream is destroyed before its end, so that its connection does not stay held. One whose signal fires while
 * it waits for a pooled connection was never written: it is rejected at once with {@link RequestNotSent} (its
 * caller must not wait for a free connection to learn it), and dropped by undici when its turn comes. One that
 * fails before undici hands it a connection (`onConnect`: the connection could not be opened, the pool was
 * closed) is rejected with {@link RequestNotSent} too; once it has one, bytes may have gone out, and a failure
 * (a reset, a connection closed mid-request) is passed on as it is: the upstream may have received it.
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { Readable } from 'node:stream';
import { type Dispatcher, util as undiciUtil } from 'undici';
import { ignore, isEventStream, Reply, replyType, type UpstreamReply, WholeReply } from './upstream-reply.js';

export type ReplySignal =
  | AbortSignal
  | (EventEmitter & { readonly aborted: boolean; readonly reason?: unknown });

export interface ReplyHandlerOptions {
  /** Replies up to this long (by Content-Length) that are no event streams are read whole. */
  readonly wholeMax: number;
  /** Longest pause in a reply read whole; 0 for none. */
  readonly idleMs: number;
  readonly signal?: ReplySignal | null;
  /**
   * Called once when the exchange leaves undici (ended, failed or aborted); `dropped` when it had been given up
   * unsent before (see `onDropped`).
   */
  readonly done: (dropped: boolean) => void;
  /**
   * Called when the request is given up unsent while undici still holds it (its signal fired while it waited
   * for a pooled connection): rejected now, it leaves undici only at its turn, with `done(true)`.
   */
  readonly onDropped?: (() => void) | undefined;
  /** Called once the whole request has been written to the upstream (it may act on it from then on). */
  readonly onSent?: (() => void) | undefined;
}

const GONE = 'the request was aborted';

/**
 * The rejection of a request none of which was written to the upstream: its signal fired first (before it was
 * dispatched, or while it waited for a pooled connection), or it failed before undici gave it a connection
 * (one that could not be opened: refused, timed out). The upstream never saw it. Its message is its `cause`'s:
 * the signal's reason, or undici's error.
 */
export class RequestNotSent extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = new.target.name;
  }
}

function abortReason(signal: ReplySignal): Error {
  const r = signal.reason;
  return r instanceof Error ? r : new Error(GONE);
}

/** The length a Content-Length header gives, or -1 when absent, repeated or not a plain number. */
function lengthOf(value: string | string[] | undefined): number {
  if (typeof value !== 'string') return -1;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : -1;
}

/**
 * Sends one request on `dispatcher` with a {@link ReplyHandler}; resolves with the reply at its headers, or
 * rejects with what `mapError` makes of the failure (a throw of `dispatch` itself included).
 */
export function dispatchReply(
  dispatcher: Dispatcher,
  request: Dispatcher.DispatchOptions,
  opts: ReplyHandlerOptions,
  mapError: (err: unknown) => Error = asError,
): Promise<UpstreamReply> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void => reject(mapError(err));
    try {
      const handler = new ReplyHandler(opts, resolve, fail);
      if (!handler.settled) dispatcher.dispatch(request, handler);
    } catch (err) {
      fail(err);
    }
  });
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

class ReplyHandler implements Dispatcher.DispatchHandler {
  readonly #opts: ReplyHandlerOptions;
  #resolve: ((r: UpstreamReply) => void) | null;
  #reject: ((err: Error) => void) | null;
  #abort: ((err: Error) => void) | null = null;
  /** Why the request was aborted before undici gave it a way to abort (set before `onConnect`). */
  #reason: Error | null = null;
  #finished = false;
  #stream: Readable | null = null;
  #whole: WholeReply | null = null;
  readonly #onSignal = (): void => {
    const signal = this.#opts.signal;
    if (signal) this.#cancel(abortReason(signal));
  };

  constructor(opts: ReplyHandlerOptions, resolve: (r: UpstreamReply) => void, reject: (err: Error) => void) {
    this.#opts = opts;
    this.#resolve = resolve;
    this.#reject = reject;
    const signal = opts.signal;
    if (!signal) return;
    if (signal.aborted) {
      this.#finish();
      this.#settle(new RequestNotSent(abortReason(signal)));
      return;
    }
    if ('addEventListener' in signal) signal.addEventListener('abort', this.#onSignal, { once: true });
    else signal.once('abort', this.#onSignal);
  }

  /** Whether the promise is already settled (a signal aborted before the request was sent). */
  get settled(): boolean {
    return this.#resolve === null;
  }

  onConnect(abort: (err?: Error) => void): void {
    // Given up while it waited: undici fails a request whose onConnect throws and writes none of it, leaving
    // the connection to the next one; `abort` would destroy that connection, one reconnect per call given up.
    if (this.#reason) throw this.#reason;
    this.#abort = abort;
  }

  onRequestSent(): void {
    this.#opts.onSent?.();
  }

  onHeaders(status: number, raw: Buffer[], resume: () => void): boolean {
    if (status < 200) return true;
    const headers = undiciUtil.parseHeaders(raw) as Record<string, string | string[] | undefined>;
    const length = lengthOf(headers['content-length']);
    if (!isEventStream(replyType(headers)) && length >= 0 && length <= this.#opts.wholeMax) {
      const whole = new WholeReply(length, this.#opts.idleMs, (err) => this.#cancel(err));
      this.#whole = whole;
      this.#resolve?.(new Reply(status, headers, whole));
    } else {
      const stream = new Readable({
        read: () => resume(),
        destroy: (err, cb) => {
          if (!this.#finished) this.#cancel(err ?? new Error('upstream reply closed by its reader'));
          cb(err);
        },
      });
      this.#stream = stream;
      this.#resolve?.({ status, headers, body: stream, whole: undefined });
    }
    this.#resolve = null;
    this.#reject = null;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#whole) {
      this.#whole.add(chunk);
      return true;
    }
    return this.#stream?.push(chunk) ?? true;
  }

  onComplete(): void {
    this.#finish();
    if (this.#whole) this.#whole.end();
    else this.#stream?.push(null);
  }

  onError(err: Error): void {
    this.#finish();
    // Without a connection yet (`onConnect`), none of it was written: the upstream never saw it.
    if (this.#settle(this.#abort === null ? new RequestNotSent(err) : err)) return;
    if (this.#whole) this.#whole.fail(err);
    else if (this.#stream && !this.#stream.destroyed) {
      // Its reader may have stopped listening already (a client that left): the error must not go unheard.
      this.#stream.on('error', ignore);
      this.#stream.destroy(err);
    }
  }

  /**
   * Aborts the request, at once or as soon as undici connects it (`onConnect`, before writing any of it: then
   * it is rejected now, as not sent); nothing once it is over.
   */
  #cancel(err: Error): void {
    if (this.#finished) return;
    if (this.#abort) this.#abort(err);
    else if (!this.#reason) {
      this.#reason = err;
      this.#settle(new RequestNotSent(err));
      this.#opts.onDropped?.();
    }
  }

  /** Rejects the pending promise with `err`; false when the reply was already handed over. */
  #settle(err: Error): boolean {
    const reject = this.#reject;
    if (!reject) return false;
    this.#resolve = null;
    this.#reject = null;
    reject(err);
    return true;
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const signal = this.#opts.signal;
    if (signal) {
      if ('removeEventListener' in signal) signal.removeEventListener('abort', this.#onSignal);
      else signal.off('abort', this.#onSignal);
    }
    this.#opts.done(this.#reason !== null);
  }
}
