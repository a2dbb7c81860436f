/**
 * Integers beyond 2^53 in a call's arguments, through a real sidecar, a real wasm policy and the MCP SDK
 * example server: the policy reads them as the body spells them. The policy allows only the account
 * 9007199254740992 (2^53). JSON.parse reads 9007199254740993 as that same number, so a call naming
 * another account was allowed and forwarded, where the upstream (Python's json, Go's int64) reads the
 * account exactly.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { buildBundle } from '../helpers/policy.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let auth: Record<string, string>;

beforeAll(async () => {
  const bundle = await buildBundle('test/fixtures/policies/exact-numbers');
  h = await startHarness({ upstreamStateless: true, config: { policy: { bundle } } });
  auth = await h.bearer(['user']);
}, 120_000);
afterAll(() => h?.stop());

/** A tools/call of echo naming `account`, written into the body as is. */
const call = (id: number, account: string) =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi","account":${account}}}}`;

const forwardedIds = () =>
  h.upstream
    .calls()
    .filter((c) => c.method === 'tools/call')
    .map((c) => c.id);

describe('integers beyond 2^53 in arguments', () => {
  it('allows the listed account, then refuses one JSON.parse rounds to it (the allowed decision is cached)', async () => {
    const allowed = await postJsonRpc(h.mcpUrl, auth, call(1, '9007199254740992'));
    expect(allowed.status).toBe(200);
    expect(forwardedIds()).toEqual([1]);

    const other = await postJsonRpc(h.mcpUrl, auth, call(2, '9007199254740993'));
    const body = (await other.json()) as { id: number; error?: { code: number; message: string } };
    expect(body).toMatchObject({
      id: 2,
      error: { code: -32003, message: 'Forbidden: the account is not on the list' },
    });
    expect(forwardedIds()).toEqual([1]);
  });

  it('reads the spelling the upstream reads: the same number in exponent form and with spaces is allowed', async () => {
    const res = await postJsonRpc(
      h.mcpUrl,
      auth,
      '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments" : { "text":"hi", "account" : 9007199254740992 , "n": 1e30 }}}',
    );
    expect(res.status).toBe(200);
    expect(forwardedIds()).toContain(3);
  });

  it('refuses a batch whose second call names the rounded account, forwarding neither', async () => {
    const before = forwardedIds().length;
    const res = await postJsonRpc(
      h.mcpUrl,
      { ...auth, 'mcp-protocol-version': '2025-03-26' },
      `[${call(4, '9007199254740992')},${call(5, '9007199254740993')}]`,
    );
    const replies = (await res.json()) as { id: number; error?: { message: string } }[];
    expect(replies.find((r) => r.id === 5)?.error?.message).toBe('Forbidden: the account is not on the list');
    expect(forwardedIds().length).toBe(before);
  });
});
