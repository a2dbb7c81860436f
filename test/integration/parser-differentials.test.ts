/**
 * Bodies that JSON.parse (the sidecar's reading) and another server's parser read as different calls: each is
 * refused (400 -32600) and never reaches the upstream, while the nearest ordinary body still goes through.
 * The example server (MCP TypeScript SDK) records every message that reaches it.
 *
 * @module
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let auth: Record<string, string>;

beforeAll(async () => {
  h = await startHarness({ upstreamStateless: true });
  auth = await h.bearer(['user']);
});

afterAll(async () => {
  await h?.stop();
});

const call = (params: string): string => `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":${params}}`;

/** The body's answer and the `tools/call` messages that reached the upstream because of it. */
async function send(
  body: string,
): Promise<{ status: number; error?: { code: number; message: string }; calls: unknown[] }> {
  h.upstream.resetCalls();
  const res = await postJsonRpc(h.mcpUrl, auth, body);
  const text = await res.text();
  const json = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
  const calls = h.upstream.calls().filter((c) => c.method === 'tools/call');
  return { status: res.status, error: json?.error, calls: calls.map((c) => c.arguments) };
}

describe('parser differentials refused at the boundary', () => {
  it('refuses a key holding U+0000, which a Go server may read as the key without it', async () => {
    // The MCP Go SDK's case-sensitive decoder (segmentio/encoding) matched `name\u0000` to `name`, keeping the
    // last: decided as echo, run as delete_customer.
    const smuggled = await send(
      call(
        '{"name":"echo","name\\u0000":"delete_customer","arguments":{"text":"hi","tenant":"acme","id":"c-1"}}',
      ),
    );
    expect(smuggled).toMatchObject({
      status: 400,
      error: { code: -32600, message: expect.stringMatching(/U\+0000/) },
    });
    expect(smuggled.calls).toEqual([]);
    // Deeper too (a Go tool's typed arguments), and escaped as \u0000 or not at all (raw NUL is no JSON).
    const inArguments = await send(call('{"name":"echo","arguments":{"text":"hi","text\\u0000":"x"}}'));
    expect(inArguments).toMatchObject({ status: 400, calls: [] });
    // A NUL in a value is the value's own: passed.
    const inValue = await send(call('{"name":"echo","arguments":{"text":"a\\u0000b"}}'));
    expect(inValue).toMatchObject({ status: 200, calls: [{ text: 'a\u0000b' }] });
  });

  it('refuses an integer literal a double cannot hold, which Python and Go read exactly', async () => {
    // JSON.parse reads 9007199254740993 as 9007199254740992: the policy decides on one id, a Python or Go
    // server (ints exact) acts on the other.
    for (const n of ['9007199254740993', '-9007199254740993', '12345678901234567891']) {
      const rounded = await send(call(`{"name":"echo","arguments":{"text":"hi","account":${n}}}`));
      expect(rounded, n).toMatchObject({
        status: 400,
        error: { code: -32600, message: expect.stringContaining(`integer ${n} `) },
      });
      expect(rounded.calls, n).toEqual([]);
    }
    // Exact ones pass: 2^60 and 2^53, a double beyond 2^53 written as one, and digits in a string.
    const exact = await send(
      call(
        '{"name":"echo","arguments":{"text":"9007199254740993","a":1152921504606846976,"b":9007199254740992,"c":1e300,"d":-4.5e20}}',
      ),
    );
    expect(exact).toMatchObject({ status: 200, calls: [{ a: 2 ** 60, b: 2 ** 53, c: 1e300, d: -4.5e20 }] });
  });

  it('refuses a params member the sidecar reads, spelt otherwise, which a Go or Python server reads as it', async () => {
    // Decided as a call without arguments (the tenant rule sees no tenant); Go's encoding/json reads
    // `Arguments` as arguments and would open the ticket in tenant globex.
    const variant = await send(
      call('{"name":"create_ticket","Arguments":{"tenant":"globex","title":"t","body":"b"}}'),
    );
    expect(variant).toMatchObject({
      status: 400,
      error: {
        code: -32600,
        message: expect.stringContaining('"Arguments" is another spelling of arguments'),
      },
    });
    expect(variant.calls).toEqual([]);
    for (const params of [
      '{"NAME":"delete_customer","arguments":{}}',
      '{"name":"echo","arguments":{"text":"x"},"Task":{}}',
    ]) {
      expect(await send(call(params)), params).toMatchObject({ status: 400, calls: [] });
    }
    // A listen's lists too: `ResourceSubscriptions` would subscribe past the per-URI decisions.
    const listen = await send(
      '{"jsonrpc":"2.0","id":8,"method":"subscriptions/listen","params":{"notifications":{"ResourceSubscriptions":["crm://globex/customers"]}}}',
    );
    expect(listen).toMatchObject({ status: 400, error: { code: -32600 } });
    // The Python SDK reads `meta` as `_meta` (populate_by_name): the client's baggage and sampled flag would
    // reach it past the trace context the sidecar sets there.
    const meta = await send(
      call(
        '{"name":"echo","arguments":{"text":"x"},"meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01","baggage":"user.id=admin"}}',
      ),
    );
    expect(meta).toMatchObject({
      status: 400,
      error: { message: expect.stringContaining('"meta" is another spelling of _meta') },
      calls: [],
    });
    // The same call spelt right is decided on its arguments: denied for the other tenant.
    const exact = await send(
      call('{"name":"create_ticket","arguments":{"tenant":"globex","title":"t","body":"b"}}'),
    );
    expect(exact).toMatchObject({ status: 200, error: { code: -32003 }, calls: [] });
  });

  it('checks only the params members a method is decided on: another method’s own members pass', async () => {
    // `ping` is decided on its name alone: members of its own spelt like `name`, `taskId` or `requestId`
    // (an extension's, a Python client's) are no spelling of anything the decision read, and reach the upstream.
    const ping = await postJsonRpc(
      h.mcpUrl,
      auth,
      '{"jsonrpc":"2.0","id":8,"method":"ping","params":{"Name":"x","task_id":"t-1","request_id":3,"Arguments":{}}}',
    );
    expect(ping.status).toBe(200);
    const text = await ping.text();
    const answer = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
    expect(JSON.parse(answer)).toMatchObject({ id: 8, result: {} });
    // So does a method the sidecar does not know: decided by the policy (which refuses it), no Invalid Request.
    const custom = await send(
      '{"jsonrpc":"2.0","id":9,"method":"acme/search","params":{"Uri":"x","NAME":"y"}}',
    );
    expect(custom).toMatchObject({ status: 200, error: { code: -32003 } });
    // Its `_meta` is read (its trace context is rewritten): spelt otherwise, it is still refused.
    const meta = await send(
      '{"jsonrpc":"2.0","id":10,"method":"acme/search","params":{"meta":{"baggage":"a=b"}}}',
    );
    expect(meta).toMatchObject({ status: 400, error: { code: -32600 } });
  });

  it('denies an argument spelt as a declared one in another case, which a Go tool reads as that argument', async () => {
    // create_ticket declares `tenant`: the policy sees no tenant in `Tenant` (and allowed the call), while a Go
    // tool binding its arguments with encoding/json opens the ticket in tenant globex.
    for (const key of ['Tenant', 'TENANT', 'tenanT']) {
      const variant = await send(
        call(`{"name":"create_ticket","arguments":{"${key}":"globex","title":"t","body":"b"}}`),
      );
      expect(variant, key).toMatchObject({
        status: 200,
        error: {
          code: -32003,
          message: `Forbidden: argument "${key}" is tenant spelt in another case; spell it as the tool declares`,
        },
        calls: [],
      });
    }
    // Spelt as declared, the call is decided on it: the caller's own tenant passes.
    const exact = await send(
      call('{"name":"create_ticket","arguments":{"tenant":"acme","title":"t","body":"b"}}'),
    );
    expect(exact).toMatchObject({ status: 200, calls: [{ tenant: 'acme', title: 't', body: 'b' }] });
    expect(exact.error).toBeUndefined();
  });

  it('drops an underscore spelling of an MCP header, which a CGI-style upstream reads as the header', async () => {
    // The sidecar checks `Mcp-Session-Id` (whose session it is) under that name alone: `mcp_session_id` was
    // forwarded unchecked, and WSGI or PHP read it as HTTP_MCP_SESSION_ID, another caller's session.
    const sent: string[] = [];
    const onRequest = (m: unknown) => {
      const r = (m as { request: { origin: unknown; headers: unknown } }).request;
      if (String(r.origin).endsWith(`:${h.upstream.port}`)) sent.push(String(r.headers));
    };
    subscribe('undici:request:create', onRequest);
    try {
      const res = await postJsonRpc(
        h.mcpUrl,
        { ...auth, mcp_session_id: 'another-callers-session', mcp_protocol_version: '2026-07-28' },
        call('{"name":"echo","arguments":{"text":"hi"}}'),
      );
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      unsubscribe('undici:request:create', onRequest);
    }
    const forwarded = sent.filter((hs) => hs.includes('x-forwarded-for'));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]).not.toMatch(/mcp_session_id|another-callers-session|mcp_protocol_version/);
  });
});
