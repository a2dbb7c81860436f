import { describe, expect, it } from 'vitest';
import { ERROR_CODES, type ErrorCode, RPC } from '../../../src/errors/codes.js';
import { PolicyError, SidecarError } from '../../../src/errors/errors.js';
import { rpcErrorBody } from '../../../src/errors/jsonrpc.js';

const ALL_CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const STANDARD_RPC = new Set([-32700, -32600, -32601, -32602, -32603]);

describe('rpcErrorBody', () => {
  it('builds a JSON-RPC error for the id with the stable code in data', () => {
    expect(rpcErrorBody(new SidecarError('ERR_RATELIMIT_EXCEEDED', 'Too Many Requests'), 'a')).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      error: {
        code: RPC.rateLimited,
        message: 'Too Many Requests',
        data: { code: 'ERR_RATELIMIT_EXCEEDED' },
      },
    });
  });

  it("shares the error's data fields", () => {
    const err = new PolicyError('ERR_POLICY_DENIED', 'Forbidden', {
      data: { reasons: ['no'], decision_id: 'd1' },
    });
    expect(rpcErrorBody(err, 1).error).toMatchObject({
      code: -32003,
      data: { code: 'ERR_POLICY_DENIED', reasons: ['no'], decision_id: 'd1' },
    });
  });

  it('never sends the cause', () => {
    const err = new SidecarError('ERR_INTERNAL', 'internal error', { cause: new Error('db password wrong') });
    expect(JSON.stringify(rpcErrorBody(err, null))).not.toContain('password');
  });

  it.each(ALL_CODES)('maps %s to an integer JSON-RPC code in a valid range', (code) => {
    const rpc = (rpcErrorBody(new SidecarError(code, 'x'), 1).error as { code: number }).code;
    expect(rpc).toBe(ERROR_CODES[code].rpc);
    expect(Number.isInteger(rpc)).toBe(true);
    // standard codes, or the -32000…-32099 range reserved for implementation-defined server errors
    expect(STANDARD_RPC.has(rpc) || (rpc <= -32000 && rpc >= -32099)).toBe(true);
  });
});
