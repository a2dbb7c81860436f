/**
 * The `error.type` of `mcp.server.operation.duration` (src/telemetry/request-tracing.ts): the JSON-RPC code
 * each decided request was answered with.
 *
 * @module
 */
import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import type { MessageDecision } from '../../../src/pipeline/context.js';
import { errorType } from '../../../src/telemetry/request-tracing.js';

describe('operation error.type', () => {
  const decided = (allow: boolean, refusal?: MessageDecision['rateLimitRefusal']): MessageDecision => ({
    index: 0,
    action: classify('tools/call', 1, { name: 'echo', arguments: {} }),
    decision: { allow, reasons: [], obligations: {}, sensitivity: undefined, revision: 'r', evalNs: 1 },
    decisionId: 'd',
    ...(refusal ? { rateLimitRefusal: refusal } : {}),
  });

  it('is the code each request was answered with', () => {
    expect(errorType(decided(true))).toBeNull();
    expect(errorType(decided(false))).toBe('-32003');
    expect(errorType(decided(true, { kind: 'limit', reason: 'r' }))).toBe('-32029');
    // Allowed, but its batch held a denied request: answered "not forwarded" with the denial's code.
    expect(errorType(decided(true), true)).toBe('-32003');
  });
});
