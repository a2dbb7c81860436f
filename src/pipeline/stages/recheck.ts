/**
 * The caller checked again once its body is in. A body may take up to `server.requestTimeout` to come
 * after the headers were checked: a token revoked or expired meanwhile, a key revoked, a caller or address
 * blocked must not have a call chosen after that decided and forwarded on the word of those checks; nor may a
 * Streamable HTTP session that ended meanwhile and whose id went to another caller take it to that caller's
 * session. Only what is held in memory is read (the revocation snapshot, the principal's expiry, the block
 * list, the session bindings: the shared store only for a session this replica forgot meanwhile): no second
 * hash of the token.
 *
 * @module
 */
import type { Authenticator } from '../../authn/authenticator.js';
import { SidecarError, toSidecarError } from '../../errors/errors.js';
import type { SessionOwners } from '../../mcp/session-owners.js';
import { CONTINUE, deny, type Stage } from '../stage.js';
import { streamableSession } from './session.js';

/**
 * `blocks`: the subject block stage (it refuses a blocked address too), run again; `sessions`: the Streamable
 * HTTP session's owner checked again (a legacy messages POST is checked again by its route, against the very
 * stream its session stage saw).
 */
export function recheckStage(
  authenticator: Pick<Authenticator, 'stillValid'>,
  blocks?: Stage,
  sessions?: SessionOwners,
): Stage {
  return {
    name: 'recheck',
    run(ctx, client) {
      const principal = ctx.principal;
      if (principal) {
        try {
          authenticator.stillValid(principal);
        } catch (err) {
          return deny(err instanceof SidecarError ? err : toSidecarError(err));
        }
      }
      const blocked = blocks ? blocks.run(ctx, client) : CONTINUE;
      if (!sessions || ctx.route === 'legacy_messages') return blocked;
      if (blocked instanceof Promise)
        return blocked.then((r) => (r.kind === 'deny' ? r : streamableSession(sessions, ctx)));
      return blocked.kind === 'deny' ? blocked : streamableSession(sessions, ctx);
    },
  };
}
