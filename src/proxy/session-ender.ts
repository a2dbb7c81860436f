/**
 * Ends at the upstream the Streamable HTTP sessions that the sidecar evicted from its session table
 * (`mcp/session-owners.ts`) while unknown sessions are refused. Such a session can no longer be used through
 * the sidecar, yet the upstream keeps it: the MCP TypeScript SDK holds each session's transport and server
 * until a DELETE and has no idle timeout, so a caller looping `initialize` would grow the upstream without
 * bound although the sidecar bounds its own table. The sidecar sends the DELETE that the MCP spec asks of a
 * client that no longer needs a session, for the client that can no longer use it.
 *
 * Off the request path and bounded: {@link SessionEnder.end} only queues (the DELETEs start after the current
 * I/O callbacks); at most `maxInFlight` DELETEs run at once, `maxQueued` more wait, and any beyond are dropped
 * and counted. Each DELETE, its answer's body included, has a deadline. `stop()` (at shutdown, before the
 * upstream pool closes) drops the waiting ones; those in flight end with the pool.
 *
 * @module
 */
import { sessionDigest } from '../mcp/session-digest.js';
import type { Logger } from '../telemetry/logger.js';
import type { SessionEvictionResult } from '../telemetry/metric-labels.js';
import { sessionEndHeaders } from './headers.js';
import { toUpstreamError, type Upstream } from './upstream.js';
import { replyBytes } from './upstream-reply.js';

/** DELETEs of evicted sessions sent at once, at most (fewer with a small pool: {@link endsInFlight}). */
export const MAX_ENDS_IN_FLIGHT = 8;
/** DELETEs waiting for one of those, at most: a few hundred bytes each; beyond, they are dropped. */
export const MAX_ENDS_QUEUED = 1_024;

/** A DELETE's answer read beyond this is cut with its connection (the SDK answers with an empty body). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * How many DELETEs may be in flight with `connections` pooled upstream connections: at most a quarter of
 * them (at least one), so the clients' own requests keep the rest of the pool.
 */
export function endsInFlight(connections: number): number {
  return Math.max(1, Math.min(MAX_ENDS_IN_FLIGHT, Math.floor(connections / 4)));
}

export interface SessionEnderOptions {
  readonly upstream: Pick<Upstream, 'request'>;
  /** Path of the upstream MCP endpoint, e.g. `/mcp`. */
  readonly path: string;
  /** Deadline of one DELETE, its answer's body included. */
  readonly timeoutMs: number;
  readonly logger: Logger;
  /** The outcome of each session handed to {@link SessionEnder.end} (the metric). */
  readonly onResult: (result: SessionEvictionResult) => void;
  readonly maxInFlight?: number;
  readonly maxQueued?: number;
}

interface Pending {
  readonly id: string;
  readonly version: string | undefined;
}

export class SessionEnder {
  readonly #o: SessionEnderOptions;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  readonly #queue: Pending[] = [];
  #inFlight = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #stopped = false;

  constructor(opts: SessionEnderOptions) {
    this.#o = opts;
    this.#maxInFlight = opts.maxInFlight ?? MAX_ENDS_IN_FLIGHT;
    this.#maxQueued = opts.maxQueued ?? MAX_ENDS_QUEUED;
    if (!(this.#maxInFlight >= 1 && this.#maxQueued >= 0)) {
      throw new TypeError('maxInFlight must be at least 1 and maxQueued at least 0');
    }
  }

  /** Queues the DELETE of an evicted session; never throws and never waits. */
  end(sessionId: string, protocolVersion: string | undefined): void {
    // Counted with those in flight: the queue also holds, until the deferred pump, ones that will not wait.
    if (this.#stopped || this.#inFlight + this.#queue.length >= this.#maxInFlight + this.#maxQueued) {
      this.#report(sessionId, 'dropped', {
        why: this.#stopped ? 'shutting down' : 'too many session ends waiting',
      });
      return;
    }
    this.#queue.push({ id: sessionId, version: protocolVersion });
    // After the I/O callbacks of this turn: the request whose new session evicted this one goes on first.
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      this.#pump();
    });
  }

  /** DELETEs sent and not yet answered, and those waiting. */
  get pending(): { readonly inFlight: number; readonly queued: number } {
    return { inFlight: this.#inFlight, queued: this.#queue.length };
  }

  /**
   * Stops sending: the waiting DELETEs are dropped (and counted), and so is any later one. Those in flight
   * finish or fail with the upstream pool, which the shutdown sequence closes next.
   */
  stop(): void {
    this.#stopped = true;
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    const dropped = this.#queue.splice(0);
    for (const _ of dropped) this.#o.onResult('dropped');
    if (dropped.length > 0) {
      this.#o.logger.debug({ dropped: dropped.length }, 'shutdown: evicted sessions left unended upstream');
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#inFlight < this.#maxInFlight) {
      const next = this.#queue.shift();
      if (next === undefined) return;
      this.#inFlight++;
      void this.#send(next).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
  }

  async #send(s: Pending): Promise<void> {
    const signal = AbortSignal.timeout(this.#o.timeoutMs);
    let status: number;
    try {
      const res = await this.#o.upstream.request({
        method: 'DELETE',
        path: this.#o.path,
        headers: sessionEndHeaders(s.id, s.version),
        signal,
      });
      status = res.status;
      // Read (and drop) the answer so that its connection returns to the pool; the status is the outcome.
      await replyBytes(res, MAX_ANSWER_BYTES).catch(() => undefined);
    } catch (err) {
      const e = toUpstreamError(err);
      const cause = e.cause instanceof Error ? e.cause.message : undefined;
      this.#report(s.id, 'failed', { code: e.code, ...(cause ? { err: cause } : {}) });
      return;
    }
    if (status >= 200 && status < 300) this.#o.onResult('ended');
    else if (status === 404) this.#o.onResult('gone');
    else this.#report(s.id, 'refused', { status });
  }

  /** Counts an outcome that left the session at the upstream, with a debug line that never holds the id. */
  #report(
    sessionId: string,
    result: 'dropped' | 'failed' | 'refused',
    fields: Record<string, unknown>,
  ): void {
    this.#o.onResult(result);
    const log = this.#o.logger;
    if (!log.isLevelEnabled('debug')) return;
    log.debug({ session: sessionDigest(sessionId), result, ...fields }, 'evicted session not ended upstream');
  }
}
