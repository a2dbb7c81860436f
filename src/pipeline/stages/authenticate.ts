/**
 * Authentication: turns the request's credentials into `ctx.principal`, or denies with the
 * authenticator's typed error (401, 403 insufficient scope, 503 when credentials cannot be checked).
 *
 * @module
 */
import type { Authenticator } from '../../authn/authenticator.js';
import { SidecarError, toSidecarError } from '../../errors/errors.js';
import type { PipelineEvents } from '../events.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function authenticateStage(authenticator: Authenticator, events: PipelineEvents): Stage {
  return {
    name: 'authenticate',
    async run(ctx, signal) {
      try {
        ctx.principal = await authenticator.authenticate({ headers: ctx.req.headers }, signal);
        return CONTINUE;
      } catch (err) {
        const e = err instanceof SidecarError ? err : toSidecarError(err);
        events.authFailure(ctx, e);
        return deny(e);
      }
    },
  };
}
