import { describe, expect, it } from 'vitest';
import { classify } from '../../../src/mcp/action.js';
import { type JsonRpcMessage, parseBody } from '../../../src/mcp/jsonrpc.js';
import { cacheKey } from '../../../src/policy/decision-cache.js';
import { buildDecisionInput } from '../../../src/policy/input.js';
import { inputJson } from '../../../src/policy/input-json.js';
import { TRUSTED_FACTS } from '../../helpers/policy.js';
import { principal } from '../../helpers/principal.js';

const exactOf = (m: JsonRpcMessage | undefined) => (m?.kind === 'request' ? m.argumentsJson : undefined);
const call = (id: number, args: string, method = 'tools/call') =>
  `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":{"name":"t","arguments":${args}}}`;

describe('arguments holding an integer beyond 2^53', () => {
  it('keep their text, as the body spells it, in every call of the body', () => {
    const args = '{ "a": 9007199254740993, "b": [1.50, "x"] }';
    expect(exactOf(parseBody(call(1, args)).messages[0])).toBe(args);
    const batch = parseBody(` [ ${call(1, '{"n":1}')} , ${call(2, args, 'prompts/get')} ] `);
    // The first call's own arguments are exact either way: each call of such a body gets its text.
    expect(batch.messages.map(exactOf)).toEqual(['{"n":1}', args]);
  });

  it('are found under an escaped key, and not kept for other methods or non-object arguments', () => {
    const escaped =
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"\\u0061rguments":{"n":18446744073709551616}}}';
    expect(exactOf(parseBody(escaped).messages[0])).toBe('{"n":18446744073709551616}');
    const other =
      '{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"x","n":9007199254740993}}';
    expect(exactOf(parseBody(other).messages[0])).toBeUndefined();
    expect(exactOf(parseBody(call(1, '[9007199254740993]')).messages[0])).toBeUndefined();
  });

  it('are not kept when every integer is safe (the usual body)', () => {
    expect(
      exactOf(parseBody(call(1, '{"n":9007199254740991,"f":0.1,"m":-9007199254740991}')).messages[0]),
    ).toBeUndefined();
  });

  it('reach the policy input as text, and are never cached', () => {
    const text = '{"n":9007199254740993}';
    const m = parseBody(call(7, text)).messages[0];
    if (m?.kind !== 'request') throw new Error('a request');
    const input = buildDecisionInput(
      principal(),
      classify(m.method, m.id, m.params, m.argumentsJson),
      undefined,
      TRUSTED_FACTS,
    );
    const json = JSON.parse(inputJson(input).replace(text, '"EXACT"')) as { action: Record<string, unknown> };
    expect(json.action).toEqual({ method: 'tools/call', tool: 't', arguments: 'EXACT' });
    expect(cacheKey(input, new Set(['time', 'request_id']))).toBeUndefined();
    const plain = buildDecisionInput(
      principal(),
      classify('tools/call', 1, { name: 't', arguments: { n: 1 } }),
      undefined,
      TRUSTED_FACTS,
    );
    expect(inputJson(plain)).toContain('"arguments":{"n":1}');
    expect(cacheKey(plain, new Set(['time', 'request_id']))).toBeTypeOf('string');
  });
});
