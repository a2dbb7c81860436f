/**
 * Session ownership: a request naming an `Mcp-Session-Id` that another caller created is answered as if
 * the session did not exist (404), so sessions can be neither used nor probed across callers.
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import type { SessionOwners } from '../../mcp/session-owners.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function sessionStage(owners: SessionOwners): Stage {
  return {
    name: 'session',
    run(ctx) {
      const header = ctx.req.headers['mcp-session-id'];
      const id = Array.isArray(header) ? header[0] : header;
      if (id === undefined || !ctx.principal || owners.mayUse(id, ctx.principal)) return CONTINUE;
      return deny(new RequestError('ERR_REQUEST_SESSION', 'Not Found: unknown session'));
    },
  };
}
