/**
 * The answers the sidecar writes for a forwarded request that failed upstream — no connection (502), refused
 * busy (503), too slow (504), a reply that failed or must not be passed on (502 `ERR_UPSTREAM_REPLY`): a
 * JSON-RPC error for each request of the body, with the headers its stages set, as a denial has them (the
 * CORS headers a browser client needs to read it; the `RateLimit` headers, which state the tokens given back
 * when the upstream never had the call, as its audit record does).
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { codeInfo } from '../errors/codes.js';
import { type SidecarError, UpstreamError } from '../errors/errors.js';
import { toErrorResponse } from '../errors/http.js';
import type { RequestContext } from '../pipeline/context.js';
import type { ForwardDeps } from './forward.js';
import { ignore } from './reply-pump.js';
import { sendJson } from './respond.js';

/**
 * A reply that must not reach the caller — one to prune that cannot be read, or one handing out another
 * caller's session (`message` then, logged where it happened) — is not passed on: 502 ERR_UPSTREAM_REPLY.
 */
export function failReply(
  ctx: RequestContext,
  res: ServerResponse,
  deps: ForwardDeps,
  upstreamRes: { readonly body: Readable },
  why: string,
  message?: string,
): number {
  upstreamRes.body.on('error', ignore).destroy();
  if (message === undefined)
    deps.logger.warn(
      { request_id: ctx.requestId, why },
      'upstream reply could not be filtered; not passed on',
    );
  const e = new UpstreamError(
    'ERR_UPSTREAM_REPLY',
    message ?? `Bad Gateway: the upstream's reply could not be filtered: ${why}`,
  );
  deps.tracing?.upstreamFailedLate(e.code);
  return sendUpstreamError(ctx, res, e);
}

/**
 * Answers every request of the body with the upstream error `e` (one JSON-RPC error each), with the headers
 * its stages set (CORS, `RateLimit`: those of the tokens given back when it never reached the upstream).
 */
export function sendUpstreamError(ctx: RequestContext, res: ServerResponse, e: SidecarError): number {
  ctx.upstreamError = e;
  ctx.answeredCode = codeInfo(e.code).rpc;
  const ids = ctx.parsed?.messages.flatMap((m) => (m.kind === 'request' ? [m.id] : [])) ?? null;
  const out = toErrorResponse(e, { ids, batch: ctx.parsed?.batch ?? false, resourceMetadataUrl: '' });
  if (!res.headersSent) sendJson(res, out.status, out.body, { ...ctx.responseHeaders, ...out.headers });
  else res.destroy();
  return out.status;
}
