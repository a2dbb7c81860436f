/**
 * What the request path reports as it goes, for the parts that watch it (audit trail, metrics, abuse
 * detection, security counters). Stages and routes emit; `app.ts` decides who listens. Listeners must
 * not block: anything slow is queued by the listener itself.
 *
 * @module
 */
import type { SidecarError } from '../errors/errors.js';
import type { MessageDecision, RequestContext } from './context.js';

export interface PipelineEvents {
  /** Authentication refused the request (any ERR_AUTHN_* code). */
  authFailure(ctx: RequestContext, err: SidecarError): void;
  /** The request is finished: answered by a deny (`err`) or by the upstream (`ctx.upstreamStatus`). */
  requestDone(ctx: RequestContext, status: number, err: SidecarError | undefined): void;
  /** One decision, emitted once the request is finished, with its rate-limit state and upstream status. */
  decision(ctx: RequestContext, d: MessageDecision): void;
}

export const NO_EVENTS: PipelineEvents = {
  authFailure() {},
  requestDone() {},
  decision() {},
};

type AnyListener = (a: unknown, b: unknown, c?: unknown) => void;

/**
 * Fans one event out to several listeners; a listener that throws does not stop the others. Each event's
 * listeners are found once, and called with fixed arguments: no rest array and spread call per event.
 */
export function fanOut(listeners: readonly Partial<PipelineEvents>[]): PipelineEvents {
  const each = (k: keyof PipelineEvents): AnyListener => {
    const fns = listeners.flatMap((l) => (l[k] ? [l[k] as AnyListener] : []));
    return (a, b, c) => {
      for (const fn of fns) {
        try {
          fn(a, b, c);
        } catch {
          // listeners must not break the request path
        }
      }
    };
  };
  return {
    authFailure: each('authFailure'),
    requestDone: each('requestDone'),
    decision: each('decision'),
  };
}
