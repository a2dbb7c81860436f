/**
 * The caller checked again once its body is in. A body may take up to `server.requestTimeout` to come
 * after the headers were checked: a token revoked or expired meanwhile, a key revoked, a caller or address
 * blocked must not have a call chosen after that decided and forwarded on the word of those checks. Only
 * what is held in memory is read (the revocation snapshot, the principal's expiry, the block list): no I/O
 * and no second hash of the token.
 *
 * @module
 */
import type { Authenticator } from '../../authn/authenticator.js';
import { SidecarError, toSidecarError } from '../../errors/errors.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

/** `blocks`: the subject block stage (it refuses a blocked address too), run again. */
export function recheckStage(authenticator: Pick<Authenticator, 'stillValid'>, blocks?: Stage): Stage {
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
      return blocks ? blocks.run(ctx, client) : CONTINUE;
    },
  };
}
