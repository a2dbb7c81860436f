/**
 * Origin check (MCP transport security, DNS rebinding): a request that carries `Origin` must name an
 * allowed origin. Requests without `Origin` (non-browser clients) pass. An allowed origin's replies carry
 * the CORS headers that let its page read them (server/cors.ts).
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import type { Cors } from '../../server/cors.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function originStage(cors: Cors): Stage {
  return {
    name: 'origin',
    run(ctx) {
      const origin = ctx.req.headers.origin;
      if (origin === undefined) return CONTINUE;
      if (!cors.allows(origin)) {
        return deny(new RequestError('ERR_REQUEST_ORIGIN', `Origin ${origin.slice(0, 100)} is not allowed`));
      }
      Object.assign(ctx.responseHeaders, cors.replyHeaders(origin));
      return CONTINUE;
    },
  };
}
