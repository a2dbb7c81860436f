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
    // Denied but let through by policy.dryRun: forwarded and answered by the upstream.
    expect(errorType({ ...decided(false), dryRun: true })).toBeNull();
  });

  it('is the code of an error that answered the whole body instead', () => {
    // An anonymous caller the policy denied is asked to sign in: every request got -32001, not -32003.
    expect(errorType(decided(false), true, -32001)).toBe('-32001');
    expect(errorType(decided(true), true, -32001)).toBe('-32001');
    // Allowed and forwarded, but the upstream failed: the upstream error's code.
    expect(errorType(decided(true), false, -32005)).toBe('-32005');
  });
});
