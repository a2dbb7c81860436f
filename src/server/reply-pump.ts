/**
 * Pipes an upstream reply body into the client response (through a rewriting transform when given), with
 * explicit handlers: `stream.pipeline` costs an AbortController and an abort per reply.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { Readable, Transform } from 'node:stream';
import type { ActiveReplies } from './active-replies.js';

/** Swallows an error nobody listens for any more. */
export function ignore(): void {}

/**
 * Streams `body` (through `via` when given) into `res`. Resolves when the reply is written or the client
 * went away (then the upstream body is destroyed); rejects when the upstream body fails. Plain `pipe` with
 * explicit handlers: `stream.pipeline` costs an AbortController and an abort per reply. The reply is
 * tracked in `replies` while it lasts; `eventStream` lets shutdown end it cleanly.
 */
export function pump(
  body: Readable,
  res: ServerResponse,
  via: Transform | undefined,
  replies: ActiveReplies | undefined,
  eventStream: boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const source: Readable = via ? body.pipe(via) : body;
    // An event stream ends cleanly at shutdown: no more upstream data, what is in `via` flushed, then the end.
    const end = eventStream
      ? () => {
          body.unpipe(via ?? res);
          (via ?? res).end();
        }
      : undefined;
    const untrack = replies?.add(res, end);
    const cleanup = () => {
      untrack?.();
      res.off('finish', onFinish);
      res.off('close', onClose);
      body.off('error', onError);
      via?.off('error', onError);
    };
    // Once the client side is done, the upstream body has no reader left: release it.
    const release = () => {
      if (body.readableEnded || body.destroyed) return;
      // undici's body emits an AbortError when destroyed: nobody listens any more, so swallow it here
      // rather than let it become an uncaught exception.
      body.on('error', ignore);
      via?.on('error', ignore);
      body.destroy();
    };
    const onFinish = () => {
      cleanup();
      release();
      resolve();
    };
    const onClose = () => {
      cleanup();
      release();
      resolve();
    };
    const onError = (err: Error) => {
      cleanup();
      source.unpipe(res);
      reject(err);
    };
    res.once('finish', onFinish);
    res.once('close', onClose);
    body.once('error', onError);
    via?.once('error', onError);
    source.pipe(res);
  });
}

/**
 * Calls `onStall` once `body` has given no data for `ms` while its reader was waiting for some (a body
 * paused by backpressure, or holding unread data, waits on its client, not on the upstream: that is
 * `server.sendTimeoutMs`'s business). Returns the function that stops watching. Attach it once the reader
 * is attached: undici's body refuses to be consumed once it has had a `data` listener.
 */
export function watchStall(body: Readable, ms: number, onStall: () => void): () => void {
  if (ms <= 0) return ignore;
  const timer = setTimeout(() => {
    if (body.readableFlowing === false || body.readableLength > 0) timer.refresh();
    else onStall();
  }, ms);
  const refresh = (): void => {
    timer.refresh();
  };
  body.on('data', refresh);
  return () => {
    clearTimeout(timer);
    body.off('data', refresh);
  };
}

/**
 * Awaits `work` (a reader already attached to `body`) while {@link watchStall} watches `body`; the watch ends
 * with the work.
 */
export async function watched<T>(
  body: Readable,
  ms: number,
  onStall: () => void,
  work: Promise<T>,
): Promise<T> {
  const unwatch = watchStall(body, ms, onStall);
  try {
    return await work;
  } finally {
    unwatch();
  }
}
