import { describe, expect, it } from 'vitest';
import { classify } from '../../../../src/mcp/action.js';
import type { MessageDecision } from '../../../../src/pipeline/context.js';
import { SESSION_ENDED_REASON, sessionEndedLate } from '../../../../src/pipeline/stages/session.js';
import { errorType } from '../../../../src/telemetry/decision-span.js';
import { contextFor, fakeRequest } from '../fake-request.js';

describe('sessionEndedLate (a legacy POST whose session ended while its stages ran)', () => {
  it('answers 404 unknown session, marks every decision refused, and says what each request was answered', () => {
    const ctx = contextFor(fakeRequest({}));
    const allowed = {
      index: 0,
      action: classify('tools/call', 1, { name: 'echo', arguments: {} }),
      decision: { allow: true, reasons: [] },
    } as unknown as MessageDecision;
    ctx.decisions.push(allowed);
    let refunds = 0;
    ctx.refundRateLimit = () => refunds++;
    const err = sessionEndedLate(ctx);
    expect({ code: err.code, status: err.status }).toEqual({ code: 'ERR_REQUEST_SESSION', status: 404 });
    // Marked as a rate limit's refusal is (one mark for whatever refused a call after its decision).
    expect(allowed.lateRefusal).toEqual({ code: 'ERR_REQUEST_SESSION', reason: SESSION_ENDED_REASON });
    // The operation metric's error.type: the client got -32600, not the success of a forwarded call.
    expect(errorType(allowed, false, ctx.answeredCode)).toBe('-32600');
    // Never forwarded: the tokens its stages took go back, once.
    expect(refunds).toBe(1);
    expect(ctx.refundRateLimit).toBeUndefined();
  });
});
