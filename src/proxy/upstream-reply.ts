/**
 * A reply of the upstream as the sidecar hands it on: its status and headers, its body as a stream, and for
 * a short reply read whole (`reply-handler.ts`) its bytes, with the stream made only if a reader asks for one;
 * and the one way to read a streamed reply whole (`readWhole`, `replyBytes`).
 *
 * @module
 */
import { Readable } from 'node:stream';
import { UpstreamError } from '../errors/errors.js';

export interface UpstreamReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body as a stream; for a reply read whole, made on first use from its bytes. */
  readonly body: Readable;
  /** A reply read whole: its bytes once the reply has ended; rejects when it fails, pauses too long or is aborted. */
  readonly whole: Promise<Buffer> | undefined;
  /** A reply read whole that has ended already: its bytes, without a promise or a turn to wait for them. */
  readonly bytes?: Buffer | undefined;
}

/** Swallows an error nobody listens for any more. */
export function ignore(): void {}

/**
 * The reply's media type, lower-cased (a repeated Content-Type joined with commas, as `String()` joins it):
 * the one reading of it that both the reply handler and `forward` use, so that they never disagree on whether a
 * reply is an event stream.
 */
export function replyType(headers: Record<string, string | string[] | undefined>): string {
  return String(headers['content-type'] ?? '').toLowerCase();
}

/** Whether the reply is an event stream (by {@link replyType}). */
export function isEventStream(type: string): boolean {
  return type.startsWith('text/event-stream');
}

/** A reply read whole: its chunks, its pause timer, and the promise of its bytes (made when asked for). */
export class WholeReply {
  readonly #chunks: Buffer[] = [];
  readonly #cancel: (err: Error) => void;
  #size = 0;
  #bytes: Buffer | null = null;
  #error: Error | null = null;
  #promise: Promise<Buffer> | null = null;
  #settle: { resolve(b: Buffer): void; reject(e: Error): void } | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #idleMs: number;

  constructor(length: number, idleMs: number, cancel: (err: Error) => void) {
    this.#cancel = cancel;
    this.#idleMs = length > 0 ? idleMs : 0;
    // The pause timer is armed once the read that brought the headers is parsed: a short reply usually comes
    // whole in that read, and then ends before any timer is made (a timer set and cleared costs ~2 µs a call).
    if (this.#idleMs > 0) process.nextTick(WholeReply.#arm, this);
  }

  static #arm(this: void, w: WholeReply): void {
    if (w.over) return;
    w.#timer = setTimeout(
      () => w.#cancel(new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'Upstream MCP server timed out')),
      w.#idleMs,
    );
  }

  /** The reply's bytes once it has ended; null before, or when it failed. */
  get bytes(): Buffer | null {
    return this.#bytes;
  }

  /** Whether the reply has ended or failed. */
  get over(): boolean {
    return this.#bytes !== null || this.#error !== null;
  }

  /** Aborts the request unless the reply is over (its reader stopped reading). */
  cancel(err: Error): void {
    if (!this.over) this.#cancel(err);
  }

  add(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    this.#timer?.refresh();
  }

  end(): void {
    this.#stop();
    const c = this.#chunks;
    this.#bytes = c.length === 1 && c[0] !== undefined ? c[0] : Buffer.concat(c, this.#size);
    c.length = 0;
    this.#settle?.resolve(this.#bytes);
  }

  fail(err: Error): void {
    this.#stop();
    this.#chunks.length = 0;
    this.#error = err;
    this.#settle?.reject(err);
  }

  get promise(): Promise<Buffer> {
    if (this.#promise) return this.#promise;
    if (this.#bytes) this.#promise = Promise.resolve(this.#bytes);
    else if (this.#error) this.#promise = Promise.reject(this.#error);
    else {
      this.#promise = new Promise((resolve, reject) => {
        this.#settle = { resolve, reject };
      });
    }
    return this.#promise;
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}

/** A reply read whole, whose stream is made only when a reader asks for one. */
export class Reply implements UpstreamReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly #whole: WholeReply;
  #body: Readable | null = null;

  constructor(status: number, headers: Record<string, string | string[] | undefined>, whole: WholeReply) {
    this.status = status;
    this.headers = headers;
    this.#whole = whole;
  }

  get whole(): Promise<Buffer> {
    return this.#whole.promise;
  }

  get bytes(): Buffer | undefined {
    return this.#whole.bytes ?? undefined;
  }

  get body(): Readable {
    if (this.#body) return this.#body;
    const whole = this.#whole;
    const body = new Readable({
      read: ignore,
      destroy: (err, cb) => {
        whole.cancel(err ?? new Error('upstream reply closed by its reader'));
        cb(err);
      },
    });
    this.#whole.promise.then(
      (bytes) => {
        body.push(bytes);
        body.push(null);
      },
      (err: Error) => {
        if (body.destroyed) return;
        body.on('error', ignore);
        body.destroy(err);
      },
    );
    this.#body = body;
    return body;
  }
}

/** A reply's bytes: read whole already, or read from its stream; rejects past `max` bytes (the stream destroyed). */
export async function replyBytes(reply: UpstreamReply, max: number): Promise<Buffer> {
  if (reply.whole) return reply.whole;
  try {
    return await readWhole(reply.body, max);
  } catch (err) {
    reply.body.destroy();
    throw err;
  }
}

/**
 * Reads `body` whole; rejects when it exceeds `max` bytes, fails, or is destroyed before its end. The
 * body is left to the caller to destroy.
 */
export function readWhole(body: Readable, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) onError(new Error(`upstream reply exceeds ${max} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => onError(new Error('upstream reply closed before its end'));
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
    body.once('close', onClose);
  });
}

/**
 * Why a reply that may carry a list to prune cannot be read, or undefined when it can: it must be JSON
 * or SSE, without a content coding (the sidecar asks for none; an upstream compressing anyway would have
 * its bytes rewritten as text).
 */
export function unfilterable(
  encoding: string | string[] | undefined,
  readable: boolean,
  type: string,
): string | undefined {
  const coding = String(encoding ?? 'identity').toLowerCase();
  if (coding !== 'identity') return `the reply is compressed (${coding.slice(0, 20)})`;
  if (!readable) return `the reply is ${type.split(';')[0] || 'of no content type'}, not JSON or SSE`;
  return undefined;
}
