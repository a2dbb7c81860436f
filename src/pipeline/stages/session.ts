/**
 * Session ownership: a request naming an `Mcp-Session-Id` that another caller created is answered as if
 * the session did not exist (404), so sessions can be neither used nor probed across callers. A session
 * unknown here is looked up in the shared store first, when there is one (`SessionOwners`); while the store
 * cannot answer, it is refused with 503 `ERR_SESSION_UNAVAILABLE`. A Streamable HTTP POST's session is
 * checked again once its body is in (`recheck.ts`, {@link streamableSession}).
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import type { InFlightIds } from '../../mcp/in-flight-ids.js';
import { legacySessionId, ownerKey } from '../../mcp/owner-key.js';
import type { ServerRequestIds } from '../../mcp/server-requests.js';
import type { SessionOwners } from '../../mcp/session-owners.js';
import type { RequestContext } from '../context.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';
import { refuseLate } from './late-refusal.js';

/** The answer to a request naming a session that is not open, or not its caller's (404). */
export const unknownSession = () => new RequestError('ERR_REQUEST_SESSION', 'Not Found: unknown session');
const unknown = () => deny(unknownSession());
const storeDown = () =>
  deny(
    new RequestError(
      'ERR_SESSION_UNAVAILABLE',
      'Service Unavailable: the session store cannot say whose this session is; retry shortly',
      { headers: { 'retry-after': '1' } },
    ),
  );

/** Appended to the audit reasons of a request whose legacy session ended while its stages ran. */
export const SESSION_ENDED_REASON = 'the session ended before the request was forwarded';

/**
 * The answer to a legacy messages POST whose session ended (or its id went to another stream) after this stage
 * let it through, while the rest of its stages ran: 404 as for any unknown session. Its requests were decided,
 * maybe allowed, and are never forwarded: they are refused after their decision (`refuseLate`: marked so their
 * audit records, decision spans and metrics say so, and the tokens they took given back), as a rate limit's are.
 */
export function sessionEndedLate(ctx: RequestContext): RequestError {
  return refuseLate(ctx, unknownSession(), SESSION_ENDED_REASON);
}

/**
 * `legacySession` gives the open legacy HTTP+SSE session of an id (the messages endpoint's `sessionId`), or
 * undefined for a session that is not open: such a POST is refused here, before it is decided, rate-limited
 * and audited as if it could be forwarded. `inFlight`: the sessions' request ids in flight, which a session's
 * GET stream tells of the answers it carries (a resumed stream delivering those of requests cut off).
 */
export function sessionStage(
  owners: SessionOwners,
  legacySession?: (
    sessionId: string,
  ) => { readonly owner: string; readonly serverRequests: ServerRequestIds } | undefined,
  inFlight?: Pick<InFlightIds, 'resumed'>,
): Stage {
  const streamableHeader = () =>
    deny(
      new RequestError(
        'ERR_REQUEST_INVALID',
        'Invalid Request: the legacy messages endpoint takes its session from the sessionId query parameter; send no Mcp-Session-Id header',
      ),
    );
  return {
    name: 'session',
    run(ctx) {
      if (ctx.route === 'legacy_messages' && legacySession) {
        // This transport names its session in the query. An `Mcp-Session-Id` here would be checked by no one,
        // yet claim request ids in (and be forwarded as) that Streamable HTTP session, maybe another caller's.
        if (ctx.req.headers['mcp-session-id'] !== undefined) return streamableHeader();
        const session = legacySession(legacySessionId(ctx.req.url) ?? '');
        if (session === undefined || !ctx.principal || ownerKey(ctx.principal) !== session.owner)
          return unknown();
        // Kept: the POST goes to this session's stream only, not to one given its id while the body came.
        ctx.legacySession = session;
        ctx.serverRequests = session.serverRequests;
        return CONTINUE;
      }
      if (inFlight && ctx.req.method === 'GET') ctx.sessionIds = inFlight;
      return streamableSession(owners, ctx);
    },
  };
}

/**
 * The Streamable HTTP session a request names (`Mcp-Session-Id`) must be its caller's. Run by the session stage,
 * and again by the recheck stage once a POST's body is in: the session may have ended meanwhile (DELETEd,
 * evicted) and its id gone to another caller (an upstream issuing ids again), whose session the POST would
 * otherwise reach.
 */
export function streamableSession(
  owners: SessionOwners,
  ctx: RequestContext,
): StageResult | Promise<StageResult> {
  const id = namedSession(ctx);
  if (id === undefined || !ctx.principal) return CONTINUE;
  const mine = owners.mayUse(id, ctx.principal);
  // Unknown here: the shared store says whose it is (a restart, another replica); while it cannot, the
  // session is refused for now (a 503 the client retries, and that keeps an open stream open).
  if (typeof mine !== 'boolean') return mine.then((yes) => use(owners, ctx, id, yes), storeDown);
  return use(owners, ctx, id, mine);
}

/** The Streamable HTTP session a request names (its first `Mcp-Session-Id`), if any. */
export function namedSession(ctx: RequestContext): string | undefined {
  const header = ctx.req.headers['mcp-session-id'];
  return Array.isArray(header) ? header[0] : header;
}

/** Lets a request use session `id` (`yes`: it is its caller's), noting the session's server requests. */
function use(owners: SessionOwners, ctx: RequestContext, id: string, yes: boolean): StageResult {
  if (!yes) return unknown();
  ctx.serverRequests = owners.serverRequests(id);
  ctx.sessionBinding = owners.binding(id) ?? null;
  return CONTINUE;
}
