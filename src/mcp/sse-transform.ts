/**
 * Rewrites a Server-Sent Events stream event by event, without buffering the stream: each event's data is
 * handed to a rewrite function that may return new data (or the same), and the event is re-emitted with
 * its `id`, `event` and `retry` fields. Used to prune list replies inside SSE responses and to rewrite the
 * legacy transport's `endpoint` event.
 *
 * @module
 */
import { Transform, type TransformCallback } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';

/** An event's new data, or null to drop the event. */
export type EventRewrite = (event: EventSourceMessage) => string | null;

/** Unread bytes a stream may hold before {@link SseRewriter.inject} refuses more. */
export const MAX_INJECT_BACKLOG_BYTES = 1024 * 1024;

/**
 * Bytes the upstream may send without completing an event (or a comment): the parser holds them all, so
 * an event without its blank line, or a line without its end, would otherwise grow without bound. The
 * same bound as a JSON list reply read whole (`MAX_REWRITTEN_REPLY_BYTES`).
 */
export const MAX_SSE_EVENT_BYTES = 16 * 1024 * 1024;

const CR_LINE_END = /\r\n?/g;

export class SseRewriter extends Transform {
  readonly #parser: EventSourceParser;
  readonly #decoder = new StringDecoder('utf8');
  #out: string[] = [];
  /** Bytes fed since the parser last completed an event or comment (what it may still be holding). */
  #pending = 0;
  /** The parser held more than {@link MAX_SSE_EVENT_BYTES} of one event (and dropped it). */
  #overflow = false;
  /** No text fed yet: a byte-order mark may still come, which the SSE spec has a reader drop. */
  #start = true;
  /** The text fed last ended in `\r`, which a `\n` opening the next chunk completes (one line end). */
  #cr = false;

  constructor(rewrite: EventRewrite) {
    super();
    this.#parser = createParser({
      onEvent: (event) => {
        this.#pending = 0;
        const data = rewrite(event);
        if (data !== null) this.#out.push(serialize(event, data));
      },
      onRetry: (ms) => this.#out.push(`retry: ${ms}\n\n`),
      onComment: (comment) => {
        this.#pending = 0;
        this.#out.push(`:${comment}\n\n`);
      },
      // A comment line between an event's data lines resets the count above while the parser still holds
      // those lines: its own bound on what it holds covers them.
      maxBufferSize: MAX_SSE_EVENT_BYTES,
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') this.#overflow = true;
      },
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.#pending += chunk.length;
      this.#parser.feed(this.#lines(this.#decoder.write(chunk)));
      this.#flushOut();
      if (this.#pending > MAX_SSE_EVENT_BYTES || this.#overflow) {
        done(new Error(`upstream SSE event exceeds ${MAX_SSE_EVENT_BYTES} bytes`));
        return;
      }
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.#parser.feed(this.#lines(this.#decoder.end()));
      this.#parser.reset({ consume: true });
      this.#flushOut();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  /**
   * Sends an extra `message` event to the client between upstream events (legacy transport answers).
   * False when it was not sent: the stream has ended, or its client has left {@link MAX_INJECT_BACKLOG_BYTES}
   * unread (injected events bypass backpressure, so a client that never reads would otherwise have every
   * answer kept in memory).
   */
  inject(data: string): boolean {
    if (this.writableEnded || this.destroyed || this.readableLength > MAX_INJECT_BACKLOG_BYTES) return false;
    this.push(serialize({ event: 'message', data }, data));
    return true;
  }

  /**
   * `text` with one leading byte-order mark dropped and every line end (`\r\n`, `\r`, `\n`, all valid SSE)
   * made `\n`: the parser waits after a chunk's closing `\r` for a `\n` that may never come, so an event
   * ended by `\r\r` was held back until the upstream sent more (the last one never passed), and it reads a
   * decoded mark as part of the first field's name (the first event was dropped).
   */
  #lines(text: string): string {
    if (text.length === 0) return text;
    if (this.#start) {
      this.#start = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#cr && text.charCodeAt(0) === 0x0a) text = text.slice(1);
    this.#cr = text.endsWith('\r');
    return text.includes('\r') ? text.replace(CR_LINE_END, '\n') : text;
  }

  #flushOut(): void {
    if (this.#out.length === 0) return;
    this.push(this.#out.join(''));
    this.#out = [];
  }
}

function serialize(event: EventSourceMessage, data: string): string {
  let s = '';
  if (event.id !== undefined) s += `id: ${event.id}\n`;
  if (event.event !== undefined) s += `event: ${event.event}\n`;
  for (const line of data.split('\n')) s += `data: ${line}\n`;
  return `${s}\n`;
}
