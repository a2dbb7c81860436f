/**
 * The upstream MCP server client: an undici keep-alive pool with connect and header timeouts. Streams
 * have no body timeout (SSE may stay open). Connection failures become `ERR_UPSTREAM_UNAVAILABLE` (502)
 * and header timeouts `ERR_UPSTREAM_TIMEOUT` (504).
 *
 * @module
 */
import type { EventEmitter } from 'node:events';
import { type Dispatcher, Pool, errors as undiciErrors } from 'undici';
import { UpstreamError } from '../errors/errors.js';

export interface UpstreamOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly connections: number;
}

export interface UpstreamRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, e.g. `/mcp` or `/messages?sessionId=…`. */
  readonly path: string;
  readonly headers: Record<string, string | string[]>;
  readonly body?: Buffer;
  /** Aborts the request: an AbortSignal, or an EventEmitter with `aborted` that emits `abort` (undici takes both). */
  readonly signal?: AbortSignal | EventEmitter;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Dispatcher.ResponseData['body'];
}

export class Upstream {
  readonly #pool: Pool;
  readonly origin: URL;

  constructor(opts: UpstreamOptions) {
    this.origin = new URL(opts.url);
    this.#pool = new Pool(this.origin.origin, {
      connections: opts.connections,
      connect: { timeout: opts.connectTimeoutMs },
      headersTimeout: opts.headersTimeoutMs,
      bodyTimeout: 0,
      keepAliveTimeout: 30_000,
      pipelining: 1,
    });
  }

  async request(r: UpstreamRequest): Promise<UpstreamResponse> {
    try {
      const res = await this.#pool.request({
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body ?? null,
        signal: r.signal ?? null,
      });
      return { status: res.statusCode, headers: res.headers, body: res.body };
    } catch (err) {
      throw toUpstreamError(err);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Ends every connection now (used after the shutdown grace period). */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

export function toUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof undiciErrors.HeadersTimeoutError) {
    return new UpstreamError('ERR_UPSTREAM_TIMEOUT', 'Upstream MCP server timed out', { cause: err });
  }
  return new UpstreamError('ERR_UPSTREAM_UNAVAILABLE', 'Upstream MCP server is unavailable', { cause: err });
}
