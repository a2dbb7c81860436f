/**
 * The request path's last line of defence: a route that throws — a bug, never a refusal (the stages answer
 * those) — answers 500 `ERR_INTERNAL` and never crashes the process. Its request ends as any other does:
 * counted (`mcp_authz_requests_total{status="500",reason="internal"}`), its server span ended, one line at
 * level error (the error's message, through the log's backstop against secrets; no body, no header), and each
 * call it had decided audited: refused after its decision (`deny_reason` `internal`, its rate-limit tokens
 * given back) unless the upstream already had it. A reply already begun is cut instead, recorded with the
 * status it was sent with. Before its context was made, it is counted as refused before routing.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { CLIENT_CLOSED_REQUEST } from '../errors/codes.js';
import { SidecarError } from '../errors/errors.js';
import type { RequestContext } from '../pipeline/context.js';
import { refuseLate } from '../pipeline/stages/late-refusal.js';
import { sendJson } from './respond.js';
import type { SidecarRuntime } from './runtime.js';

export const INTERNAL_ERROR_REASON = 'an internal error of the sidecar before the request was forwarded';

/** Ends the request of `ctx` (undefined: none was made yet) after its route threw `err`. */
export function failSafe(rt: SidecarRuntime, err: unknown, res: ServerResponse, ctx?: RequestContext): void {
  const internal = new SidecarError('ERR_INTERNAL', 'Internal error', { cause: err });
  const open = ctx !== undefined && !ctx.finished;
  if (open && !ctx.forwarded) refuseLate(ctx, internal, INTERNAL_ERROR_REASON);
  const answerable = !res.headersSent && !res.destroyed;
  // Answered, logged at level error and finished as any refusal is.
  if (open && answerable) {
    rt.deny(ctx, res, internal);
    return;
  }
  const { code, reason } = internal;
  rt.logger.error(
    {
      request_id: ctx?.requestId ?? null,
      code,
      reason,
      path: res.req?.url?.split('?')[0],
      cause: (err as Error | null)?.message ?? String(err),
    },
    'unhandled error in request path',
  );
  if (!ctx && answerable) {
    rt.countUnrouted(500, 'internal');
    const body = {
      jsonrpc: '2.0',
      id: null,
      error: { code: -32603, message: internal.message, data: { code } },
    };
    sendJson(res, 500, body, { connection: 'close' });
    return;
  }
  // A reply begun is cut; one already recorded (finished) is not answered again. An unfinished one is
  // recorded with the status that went out, or as its client gone when none did.
  const sent = res.headersSent;
  res.destroy();
  if (!open) return;
  if (sent) ctx.replyCut = true;
  rt.finish(ctx, sent ? res.statusCode : CLIENT_CLOSED_REQUEST, internal);
}
