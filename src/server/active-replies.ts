/**
 * The upstream replies being piped to clients, for two jobs no single reply can do for itself:
 *
 * - **Send timeout.** A client that reads nothing leaves the reply's data unsent, and its upstream
 *   connection (POST replies come from a bounded pool) held for as long as the client likes. A sweep cuts a
 *   reply whose unsent data has not moved for `server.sendTimeoutMs`, as nginx's `send_timeout` does. A
 *   stream with nothing to send is idle, not stalled, and is left alone.
 * - **Shutdown.** Open event streams are ended cleanly (the last event completed, the chunked body
 *   terminated), so clients see a stream that ended and reconnect elsewhere, not a cut connection.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { LinkedList } from '../linked-list.js';

interface Entry {
  readonly res: ServerResponse;
  /** Ends the reply cleanly (event streams only). */
  readonly end: (() => void) | undefined;
  written: number;
  pending: number;
  /** When `written` or `pending` last moved, or the reply last had nothing pending (ms, monotonic). */
  since: number;
}

export class ActiveReplies {
  /** A list, not a Map keyed by reply: see `linked-list.ts` (one add and one removal per piped reply). */
  readonly #replies = new LinkedList<Entry>();
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #onStall: (res: ServerResponse) => void;
  #timer: NodeJS.Timeout | undefined;

  /**
   * `sendTimeoutMs` 0: never cut. `onStall` is told about each reply cut (for a log line). `now` is a
   * monotonic clock in ms.
   */
  constructor(opts: {
    readonly sendTimeoutMs: number;
    readonly now?: () => number;
    readonly onStall?: (res: ServerResponse) => void;
  }) {
    this.#timeoutMs = opts.sendTimeoutMs;
    this.#now = opts.now ?? (() => performance.now());
    this.#onStall = opts.onStall ?? (() => undefined);
  }

  get size(): number {
    return this.#replies.size;
  }

  /**
   * Tracks `res` until the returned function is called. `end`, for an event stream, ends it cleanly at
   * shutdown.
   */
  add(res: ServerResponse, end?: () => void): () => void {
    const node = this.#replies.add({ res, end, written: -1, pending: -1, since: this.#now() });
    if (this.#timeoutMs > 0 && !this.#timer) {
      // A quarter of the timeout between sweeps: a stall is cut between 1 and 1.25 timeouts after it began.
      this.#timer = setInterval(() => this.sweep(), Math.max(this.#timeoutMs / 4, 50));
      this.#timer.unref();
    }
    return () => {
      this.#replies.remove(node);
    };
  }

  /** Cuts the replies whose unsent data has not moved for the send timeout (run by the timer). */
  sweep(): void {
    const now = this.#now();
    for (const node of this.#replies.nodes()) {
      const e = node.value as Entry;
      const res = e.res;
      if (res.destroyed || res.writableFinished) {
        this.#replies.remove(node);
        continue;
      }
      // Unsent data in the response and its socket; bytes handed to the socket (its buffer included).
      const pending = res.writableLength;
      const written = res.socket?.bytesWritten ?? 0;
      if (pending === 0 || pending !== e.pending || written !== e.written) {
        e.pending = pending;
        e.written = written;
        e.since = now;
        continue;
      }
      if (this.#timeoutMs > 0 && now - e.since >= this.#timeoutMs) {
        this.#replies.remove(node);
        this.#onStall(res);
        res.destroy();
      }
    }
    if (this.#replies.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /**
   * Ends every event stream cleanly and waits until they have finished, or `waitMs` passed; other replies
   * are left to the caller (they are cut with their connections).
   */
  async endStreams(waitMs: number): Promise<void> {
    const finished: Promise<void>[] = [];
    for (const e of this.#replies) {
      const res = e.res;
      if (!e.end || res.destroyed || res.writableFinished) continue;
      finished.push(new Promise<void>((resolve) => res.once('close', resolve)));
      e.end();
    }
    if (finished.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(finished),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Stops the sweeps. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
