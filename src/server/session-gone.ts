/**
 * The last check of a Streamable HTTP session, right before its request goes upstream. The session stage (and
 * the recheck stage once a POST's body is in) let the request use the session; its decision, a Redis rate-limit
 * call, a tool discovery or its pipelined turn may then take a while, and meanwhile the session may end (its
 * DELETE, an eviction) and its id go anew to another caller (an upstream issuing ids again): forwarded, the
 * request would reach that caller's session. So the binding the last check saw is compared, synchronously and
 * from memory only, with the binding now: another one (or none, where unknown sessions are refused) refuses the
 * request after its decision with 404, as for any unknown session. A binding made anew for the same caller (the
 * session ended and the upstream issued its id again to it) refuses it too: the request's ids in flight were
 * dropped with the old session, and forwarded into the new one they would not be held against a request there
 * reusing one (whose reply could then carry this one's list unpruned).
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { SessionOwners } from '../mcp/session-owners.js';
import type { RequestContext } from '../pipeline/context.js';
import { namedSession, sessionEndedLate } from '../pipeline/stages/session.js';
import { errorResponse, sendJson } from './respond.js';

/** Whether the session the request names ended, or went to another binding, since its last session check. */
export function sessionGone(ctx: RequestContext, sessions: SessionOwners | undefined): boolean {
  const noted = ctx.sessionBinding;
  if (noted === undefined || sessions === undefined) return false;
  const id = namedSession(ctx);
  if (id === undefined) return true;
  const now = sessions.binding(id);
  // Unbound now: it ended, or (unknown sessions forwarded) the table's bounds evicted it, which ends nothing
  // upstream; checked now it would be forwarded as unknown, so it goes on (the upstream answers an ended one 404).
  if (now === undefined) return noted !== null && !sessions.forwardsUnknown;
  return now !== noted;
}

/** Refuses the request after its decision (404, as an unknown session); returns the status sent. */
export function refuseSessionGone(ctx: RequestContext, res: ServerResponse): number {
  const out = errorResponse(ctx, sessionEndedLate(ctx), '');
  sendJson(res, out.status, out.body, { ...ctx.responseHeaders, ...out.headers });
  return out.status;
}
