/**
 * What a forwarded reply means for Streamable HTTP session ownership (`SessionOwners`): a session the upstream
 * issues is bound to its caller, one a DELETE ends or the upstream answers 404 for (to its owner) is freed,
 * and a bound session's protocol version is noted.
 *
 * @module
 */
import type { SessionOwners } from '../mcp/session-owners.js';
import type { RequestContext } from '../pipeline/context.js';
import type { Logger } from '../telemetry/logger.js';

/** What {@link trackSession} returns for a session id the upstream issued that another caller holds. */
export const SESSION_TAKEN: unique symbol = Symbol('session taken');

type Tracked = string | typeof SESSION_TAKEN | undefined;

/**
 * Binds a session the upstream issues to the caller (returning its id), frees one a DELETE ends or the
 * upstream no longer has (404 to its owner: `SessionOwners.notFound`), or notes the protocol version a session's request was accepted with (sent with the DELETE should it be evicted).
 * {@link SESSION_TAKEN} when the upstream issued an id bound to another caller: the session stays with its
 * owner, and the reply must not reach this caller (it would learn the owner's session id). A promise when a
 * new session's binding is claimed in the shared store.
 */
export function trackSession(
  ctx: RequestContext,
  method: string,
  res: { status: number; headers: Record<string, string | string[] | undefined> },
  sessions: SessionOwners | undefined,
  logger: Logger,
): Tracked | Promise<Tracked> {
  if (!sessions || !ctx.principal) return undefined;
  const requested = ctx.req.headers['mcp-session-id'];
  if (res.status >= 400) {
    if (res.status === 404 && typeof requested === 'string') sessions.notFound(requested, ctx.principal);
    return undefined;
  }
  const issued = res.headers['mcp-session-id'];
  if (method === 'DELETE' && typeof requested === 'string') sessions.unbind(requested);
  else if (typeof issued === 'string' && issued !== requested) {
    const bound = sessions.bind(issued, ctx.principal);
    const taken = (): typeof SESSION_TAKEN => {
      // Kept with its first owner, and not abandoned (that would end the owner's session at the upstream).
      logger.warn(
        { request_id: ctx.requestId },
        'the upstream issued a session id already bound to another caller; it stays with its owner, the reply is not passed on',
      );
      return SESSION_TAKEN;
    };
    // A promise when the shared store is asked (another replica's upstream may have issued it to another).
    if (typeof bound !== 'boolean') return bound.then((ok) => (ok ? issued : taken()));
    return bound ? issued : taken();
  }
  const version = ctx.req.headers['mcp-protocol-version'];
  if (typeof requested === 'string' && typeof version === 'string') sessions.sawVersion(requested, version);
  return undefined;
}
