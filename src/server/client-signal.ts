/**
 * The request's "client went away" signal: fires when the response closes before it was written.
 *
 * It is an EventEmitter with `aborted` and `reason`, which the upstream client takes as a request signal directly, and
 * it makes a standard `AbortSignal` only when something asks for one (a JWKS fetch, a store call, the
 * discovery of an unknown tool). On the usual path — a cached token, a cached decision, one upstream
 * request — no AbortController is built and no EventTarget listener is added, which cost more than any
 * single check of the request path.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import type { RequestSignal } from '../pipeline/stage.js';

/** One reason object for every disconnect: building an abort reason per request is costly. */
export const CLIENT_GONE = new Error('client went away');

export class ClientSignal extends EventEmitter implements RequestSignal {
  aborted = false;
  reason: unknown = undefined;
  #controller: AbortController | undefined;
  readonly #res: ServerResponse;
  readonly #onClose = (): void => {
    if (!this.#res.writableFinished) this.abort(CLIENT_GONE);
  };

  constructor(res: ServerResponse) {
    super();
    this.#res = res;
    res.once('close', this.#onClose);
  }

  /** A standard AbortSignal that follows this one; built on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.aborted) this.#controller.abort(this.reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    this.#controller?.abort(reason);
    this.emit('abort');
  }

  /** Stops watching the response (call once the request is answered). */
  release(): void {
    this.#res.off('close', this.#onClose);
  }
}

export function clientSignal(res: ServerResponse): ClientSignal {
  return new ClientSignal(res);
}
