/**
 * Origin check (MCP transport security, DNS rebinding): a request that carries `Origin` must name an
 * allowed origin. Requests without `Origin` (non-browser clients) pass.
 *
 * @module
 */
import { RequestError } from '../../errors/errors.js';
import { CONTINUE, deny, type Stage } from '../stage.js';

export function originStage(allowedOrigins: readonly string[]): Stage {
  const allowed = new Set(allowedOrigins.map((o) => o.toLowerCase().replace(/\/$/, '')));
  return {
    name: 'origin',
    run(ctx) {
      const origin = ctx.req.headers.origin;
      if (origin === undefined || allowed.has('*') || allowed.has(origin.toLowerCase())) return CONTINUE;
      return deny(new RequestError('ERR_REQUEST_ORIGIN', `Origin ${origin.slice(0, 100)} is not allowed`));
    },
  };
}
