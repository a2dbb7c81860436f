/**
 * Decision spans held while a call is handed to the upstream (src/telemetry/decision-span.ts,
 * `holdUntilSent`): ended once the request is written, the forwarding's own `onSent` still told; given back
 * when it never is, to be ended at the request's end with the refusal marked. Fake spans record their ends.
 *
 * @module
 */
import type { Span } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { MessageDecision, RequestTrace } from '../../../src/pipeline/context.js';
import { endDecisionSpans, holdUntilSent } from '../../../src/telemetry/decision-span.js';

/** A trace with one open decision span, and what was done to that span. */
function traceWithOne(): { trace: RequestTrace; d: MessageDecision; ends: number[]; attributes: object[] } {
  const ends: number[] = [];
  const attributes: object[] = [];
  const span = {
    end: (at: number) => ends.push(at),
    setAttributes: (a: object) => attributes.push(a),
    setStatus: () => undefined,
  } as unknown as Span;
  const d = {} as MessageDecision;
  const trace = { openDecisions: [{ d, span, at: 7 }] } as unknown as RequestTrace;
  return { trace, d, ends, attributes };
}

describe('holdUntilSent', () => {
  it('takes the open decision spans out of the trace and ends them once the request is sent', () => {
    const { trace, ends } = traceWithOne();
    let told = 0;
    const held = holdUntilSent(trace, () => told++);
    // What the forward span's start ends finds nothing now.
    expect(trace.openDecisions).toBeUndefined();
    endDecisionSpans(trace);
    expect(ends).toEqual([]);
    held?.sent();
    expect(ends).toEqual([7]);
    expect(told).toBe(1);
    // Failing after it was sent gives nothing back: they are ended once.
    held?.unsent();
    expect(trace.openDecisions).toBeUndefined();
  });

  it('gives them back when the request was never sent, to be ended with its refusal', () => {
    const { trace, d, ends, attributes } = traceWithOne();
    const held = holdUntilSent(trace);
    held?.unsent();
    d.lateRefusal = {
      code: 'ERR_CLIENT_CLOSED',
      reason: 'the client went away before the request was forwarded',
    };
    endDecisionSpans(trace);
    expect(ends).toEqual([7]);
    expect(attributes).toEqual([
      expect.objectContaining({
        'mcp_authz.deny.reason': 'request',
        'mcp_authz.error.code': 'ERR_CLIENT_CLOSED',
      }),
    ]);
  });

  it('holds nothing for a request with no open decision span (untraced)', () => {
    expect(holdUntilSent(undefined)).toBeUndefined();
    expect(holdUntilSent({} as RequestTrace)).toBeUndefined();
  });
});
