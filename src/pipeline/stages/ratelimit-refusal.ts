/**
 * Decisions a rate limit refused: marked so that their audit records, metrics and the report say so (the
 * outcome recorded so far stays, marked not allowed).
 *
 * @module
 */
import {
  enforcedDenial,
  type MessageDecision,
  type RateLimitRefusal,
  type RequestContext,
} from '../context.js';

export function markRefused(d: MessageDecision, kind: RateLimitRefusal['kind'], reason: string): void {
  d.rateLimitRefusal = { kind, reason };
  if (d.rateLimit) d.rateLimit = { ...d.rateLimit, allowed: false };
}

/**
 * Marks the body's decisions refused by a limit outside the buckets (the cap on a caller's open event
 * streams, met by a `subscriptions/listen`), so its audit records, metrics and report say so, and gives
 * back the tokens the rate-limit stage took for it.
 */
export function refuseDecisions(ctx: RequestContext, reason: string): void {
  for (const d of ctx.decisions) if (!enforcedDenial(d)) markRefused(d, 'limit', reason);
  // Nothing of the body runs: the tokens it took go back, as a batch's refused by another bucket do.
  ctx.refundRateLimit?.();
  ctx.refundRateLimit = undefined;
}
