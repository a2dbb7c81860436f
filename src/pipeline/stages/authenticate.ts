/**
 * Authentication: turns the request's credentials into `ctx.principal`, or denies with the
 * authenticator's typed error (401, 403 insufficient scope, 503 when credentials cannot be checked).
 *
 * @module
 */

import { abuseIpTarget } from '../../abuse/targets.js';
import type { Authenticator } from '../../authn/authenticator.js';
import { authorizationLines } from '../../authn/credentials.js';
import { connectionClosed, SidecarError, toSidecarError } from '../../errors/errors.js';
import type { RequestContext } from '../context.js';
import type { PipelineEvents } from '../events.js';
import { CONTINUE, deny, type Stage, type StageResult } from '../stage.js';

/**
 * `recheck`: the stage re-checks an open stream's caller (`server/stream-guard.ts`): a refusal there is
 * no failed login (no `authFailure` event, nothing for the abuse rules) and an API key is not "used".
 */
export function authenticateStage(
  authenticator: Authenticator,
  events: PipelineEvents,
  recheck = false,
): Stage {
  const refuse = (ctx: RequestContext, err: unknown): StageResult => {
    const e = err instanceof SidecarError ? err : toSidecarError(err);
    if (!recheck) events.authFailure(ctx, e);
    return deny(e);
  };
  return {
    name: 'authenticate',
    run(ctx, client) {
      // A token verified before, or an API key whose record is cached, is answered synchronously; everything
      // else takes the async path.
      const lines = authorizationLines(ctx.req.rawHeaders);
      try {
        const cached = authenticator.cached({
          headers: ctx.req.headers,
          url: queryChecked(ctx),
          authorizationLines: lines,
          recheck,
        });
        if (cached) {
          ctx.principal = cached;
          return CONTINUE;
        }
      } catch (err) {
        return refuse(ctx, err);
      }
      const req = {
        headers: ctx.req.headers,
        url: queryChecked(ctx),
        authorizationLines: lines,
        recheck,
        client: abuseIpTarget(ctx.clientIp),
      };
      return authenticator.authenticate(req, client.signal).then(
        (principal) => {
          ctx.principal = principal;
          return CONTINUE;
        },
        (err: unknown) =>
          // The client left while its credentials were being checked (a JWKS fetch): nobody to answer,
          // and no failed authentication to count against the caller or its address.
          client.aborted
            ? deny(connectionClosed(ctx.req, 'while its credentials were being checked'))
            : refuse(ctx, err),
      );
    },
  };
}

/**
 * The URL whose query string is checked for credentials: every route's but the legacy messages endpoint's,
 * whose query is the sidecar's own `sessionId` (an upstream's session id may look like a JWT) and is never
 * forwarded.
 */
function queryChecked(ctx: RequestContext): string | undefined {
  return ctx.route === 'legacy_messages' ? undefined : ctx.req.url;
}
