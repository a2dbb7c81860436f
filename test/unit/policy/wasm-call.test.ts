/**
 * Tests of the direct `opa_eval` call (src/policy/wasm-call.ts) against opa-wasm's own `evaluate()`, on a
 * fixture policy that hands its input back: the same result set for plain, multi-byte and large inputs
 * (the last ones grow the wasm memory), call after call, and `evaluate()` when the internals are missing.
 *
 * @module
 */
import { type LoadedPolicy, loadPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { readBundle } from '../../../src/policy/bundle.js';
import { wasmCall } from '../../../src/policy/wasm-call.js';
import { buildBundle } from '../../helpers/policy.js';

let policy: LoadedPolicy;
let reference: LoadedPolicy;
let decision: number;

beforeAll(async () => {
  const bundle = await readBundle(await buildBundle('test/fixtures/policies/echo'));
  policy = await loadPolicy(bundle.wasm);
  policy.setData({ data: 'set' });
  reference = await loadPolicy(bundle.wasm);
  reference.setData({ data: 'set' });
  decision = (policy.entrypoints as Record<string, number>)['mcp/authz/decision'] as number;
}, 300_000);

const INPUTS: Record<string, unknown> = {
  plain: { subject: { id: 'u-1', roles: ['user'] }, action: { method: 'tools/call', n: 1.5, ok: true } },
  'multi-byte': { text: 'héllo wörld – 日本語 🙂🙂', ключ: 'значение', esc: 'a"b\\c\n\u0001' },
  'grows the memory': { big: 'x'.repeat(3 * 1024 * 1024), wide: '€'.repeat(200_000) },
  empty: {},
};

const memoryBytes = (p: LoadedPolicy): number =>
  (p as unknown as { mem: { buffer: ArrayBuffer } }).mem.buffer.byteLength;

describe('wasmCall', () => {
  for (const [name, input] of Object.entries(INPUTS)) {
    it(`gives evaluate()'s result: ${name}`, () => {
      const call = wasmCall(policy);
      const expected = reference.evaluate(input, decision);
      const before = memoryBytes(policy);
      expect(call(JSON.stringify(input), decision)).toEqual(expected);
      if (name === 'grows the memory') expect(memoryBytes(policy)).toBeGreaterThan(before);
      expect((expected as [{ result: { echo: unknown } }])[0].result.echo).toEqual(input);
    });
  }

  it('stays right call after call, with inputs of every size in turn', () => {
    const call = wasmCall(policy);
    const inputs = Object.values(INPUTS);
    for (let i = 0; i < 40; i++) {
      const input = inputs[i % inputs.length];
      expect(call(JSON.stringify(input), decision)).toEqual(reference.evaluate(input, decision));
    }
  });

  it('grows the memory for an input whose UTF-8 bytes, not its characters, pass the end of it', async () => {
    const fresh = await loadPolicy((await readBundle(await buildBundle('test/fixtures/policies/echo'))).wasm);
    fresh.setData({ data: 'set' });
    const room = memoryBytes(fresh) - (fresh as unknown as { dataHeapPtr: number }).dataHeapPtr;
    // '€' is one UTF-16 unit and three UTF-8 bytes: the JSON's length fits in the room, its bytes do not.
    const input = { wide: '€'.repeat(Math.floor(room / 2)) };
    expect(JSON.stringify(input).length).toBeLessThan(room);
    expect(Buffer.byteLength(JSON.stringify(input))).toBeGreaterThan(room);
    expect(wasmCall(fresh)(JSON.stringify(input), decision)).toEqual(reference.evaluate(input, decision));
  });

  it('falls back to evaluate() when opa-wasm does not expose what it needs', () => {
    const calls: unknown[] = [];
    const fake = {
      evaluate: (input: unknown, entrypoint: number) => {
        calls.push([input, entrypoint]);
        return [{ result: 'from evaluate' }];
      },
    } as unknown as LoadedPolicy;
    expect(wasmCall(fake)('{"a":1}', 3)).toEqual([{ result: 'from evaluate' }]);
    expect(calls).toEqual([[{ a: 1 }, 3]]);
  });
});
