/**
 * Re-checks the caller of a long-lived event stream (a Streamable HTTP GET stream, a 2026-07-28
 * `subscriptions/listen`, the legacy SSE stream) while it stays open: every `server.streamRecheckMs` the
 * request goes through the `recheck` stages (blocks, credentials, session ownership), as if the stream were
 * opened now. A token that expired or was revoked, an API key revoked, a subject or address blocked since:
 * the stream is cut, and the client's reconnect is refused with the usual error. Without this, an open
 * stream kept delivering the server's messages after the caller's credentials were withdrawn. A re-check is
 * no login: a refusal is not counted as a failed authentication and a key is not "used"; a 5xx refusal (the
 * JWKS or the store unreachable) keeps the stream open, as such an outage is no reason to withdraw anything.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../authn/principal.js';
import { RateLimitError } from '../errors/errors.js';
import { ownerKey } from '../mcp/owner-key.js';
import { createContext, type Transport } from '../pipeline/context.js';
import { runStages } from '../pipeline/pipeline.js';
import type { RequestSignal } from '../pipeline/stage.js';
import type { SidecarRuntime } from './runtime.js';

/** An event stream being opened: the request, its response, its client signal, who opened it. */
export interface OpenedStream {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly client: RequestSignal;
  readonly transport: Transport;
  readonly opener: Principal;
}

/**
 * Opens the event stream `res` of `opener`: counts it against the caller's `server.maxStreamsPerCaller`
 * and starts its re-checks. Returns the function to call when it ends, or a 429 error when the caller
 * already has that many open.
 */
export function startStream(rt: SidecarRuntime, stream: OpenedStream): (() => void) | RateLimitError {
  const uncount = rt.streams.open(stream.opener, rt.clientIp(stream.req));
  if (!uncount) {
    return new RateLimitError(
      'ERR_RATELIMIT_STREAMS',
      `Too Many Requests: ${rt.streams.max} event streams are already open for this caller`,
    );
  }
  const unguard = guardStream(rt, stream);
  return () => {
    unguard();
    uncount();
  };
}

/** Starts re-checking the stream; returns the function that stops it. */
function guardStream(rt: SidecarRuntime, { req, res, client, transport, opener }: OpenedStream): () => void {
  const every = rt.config.server.streamRecheckMs;
  if (every === 0) return () => undefined;
  const owner = ownerKey(opener);
  let checking = false;
  const cut = (why: string) => {
    rt.logger.info({ subject: opener.id, why }, 'event stream ended: the caller is no longer allowed');
    // Destroyed, not ended: the upstream reply may be mid-write into it.
    res.destroy();
  };
  const timer = setInterval(() => {
    if (checking || res.destroyed || res.writableEnded) return;
    checking = true;
    const ctx = createContext(req, {
      requestId: randomUUID(),
      transport,
      clientIp: rt.clientIp(req),
      now: new Date(rt.now()),
    });
    runStages(rt.pipelines.recheck, ctx, client, undefined)
      .then(
        (result) => {
          if (res.destroyed || res.writableEnded) return;
          if (result.kind === 'deny') {
            if (result.error.status < 500) cut(result.error.code);
          } else if (!ctx.principal || ownerKey(ctx.principal) !== owner) cut('another caller');
        },
        (err: unknown) => cut(`re-check failed: ${(err as Error)?.message ?? String(err)}`),
      )
      .finally(() => {
        checking = false;
      });
  }, every);
  timer.unref();
  return () => clearInterval(timer);
}
