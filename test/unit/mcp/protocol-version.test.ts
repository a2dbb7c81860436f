import { describe, expect, it } from 'vitest';
import type { ParsedBody } from '../../../src/mcp/jsonrpc.js';
import { protocolVersionOf } from '../../../src/mcp/protocol-version.js';

const SUPPORTED = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25'];

function initialize(protocolVersion: unknown): ParsedBody {
  return {
    batch: false,
    messages: [{ kind: 'request', id: 1, method: 'initialize', params: { protocolVersion } }],
  };
}

const call: ParsedBody = {
  batch: false,
  messages: [{ kind: 'request', id: 2, method: 'tools/call', params: { name: 'echo' } }],
};

describe('protocolVersionOf', () => {
  it('takes the MCP-Protocol-Version header first', () => {
    expect(protocolVersionOf('2025-06-18', initialize('2025-11-25'), 'streamable-http', SUPPORTED)).toBe(
      '2025-06-18',
    );
  });

  it("takes an initialize request's version when the sidecar supports it", () => {
    expect(protocolVersionOf(undefined, initialize('2025-11-25'), 'streamable-http', SUPPORTED)).toBe(
      '2025-11-25',
    );
    // Unsupported or not a string: what a server assumes without the header.
    expect(protocolVersionOf(undefined, initialize('1999-01-01'), 'streamable-http', SUPPORTED)).toBe(
      '2025-03-26',
    );
    expect(protocolVersionOf(undefined, initialize(7), 'streamable-http', SUPPORTED)).toBe('2025-03-26');
  });

  it('assumes 2025-03-26 on Streamable HTTP and 2024-11-05 on the legacy transport without a header', () => {
    expect(protocolVersionOf(undefined, call, 'streamable-http', SUPPORTED)).toBe('2025-03-26');
    expect(protocolVersionOf(undefined, undefined, 'streamable-http', SUPPORTED)).toBe('2025-03-26');
    expect(protocolVersionOf(undefined, call, 'sse', SUPPORTED)).toBe('2024-11-05');
  });

  it('does not read an initialize inside a batch (initialize may not be batched)', () => {
    const batch: ParsedBody = { batch: true, messages: initialize('2025-11-25').messages };
    expect(protocolVersionOf(undefined, batch, 'streamable-http', SUPPORTED)).toBe('2025-03-26');
  });
});
