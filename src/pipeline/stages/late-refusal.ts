/**
 * Calls refused after their decision (the policy allowed them, or a dry run let them through) by what the
 * policy does not look at — their rate limit, the cap on a caller's open event streams, a legacy session that
 * ended while their stages ran, a connection closed before their turn, a client gone before they reached the
 * upstream — are marked the one way
 * ({@link LateRefusal}), so that their audit records, decision spans, metrics and the report say so, and the
 * rate-limit tokens of a body that never runs go back.
 *
 * @module
 */
import { codeInfo, type ErrorCode } from '../../errors/codes.js';
import type { SidecarError } from '../../errors/errors.js';
import { enforcedDenial, type MessageDecision, type RequestContext } from '../context.js';

/** Marks `d` refused after its decision; a rate limit's refusal leaves its bucket's outcome marked not allowed. */
export function markRefused(d: MessageDecision, code: ErrorCode, reason: string): void {
  d.lateRefusal = { code, reason };
  if (d.rateLimit && codeInfo(code).reason === 'ratelimit') d.rateLimit = { ...d.rateLimit, allowed: false };
}

/** Whether a rate limit's bucket or cap refused `d` (429), not a store that could not say (503). */
export function refusedByLimit(d: MessageDecision): boolean {
  const code = d.lateRefusal?.code;
  return code !== undefined && code !== 'ERR_RATELIMIT_BACKEND' && codeInfo(code).reason === 'ratelimit';
}

/**
 * Refuses, with `err`, a body its stages let through: every call of it not already denied is marked refused
 * (`reason` goes to their audit records), and the tokens the body took go back, as a batch's refused by another
 * bucket do: nothing of it runs. Returns `err`, for the answer.
 */
export function refuseLate<E extends SidecarError>(ctx: RequestContext, err: E, reason: string): E {
  for (const d of ctx.decisions) if (!enforcedDenial(d)) markRefused(d, err.code, reason);
  ctx.refusedLate = err;
  giveBackTokens(ctx);
  return err;
}

/**
 * Gives back, once, the rate-limit tokens the body took: none of it ran. `refuseLate` does for a body refused
 * after its decision; `forward` for one the upstream never received (refused busy, its connection never
 * opened), which stays an allowed call that failed upstream.
 */
export function giveBackTokens(ctx: RequestContext): void {
  ctx.refundRateLimit?.();
  ctx.refundRateLimit = undefined;
}
