/**
 * End to end over Streamable HTTP with real parts: SDK client → sidecar → SDK example server, JWTs from a
 * JWKS served over HTTP, the compiled default policy.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
const clients: Client[] = [];

async function client(roles: string[], extra = {}): Promise<Client> {
  const c = await connectStreamable(h.mcpUrl, await h.bearer(roles, extra));
  clients.push(c);
  return c;
}

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await h?.stop();
});

describe('Streamable HTTP through the sidecar', () => {
  it('lists only the tools each role may use', async () => {
    // progress and slow are not in the catalog: they get the default sensitivity (internal).
    const expected: Record<string, string[]> = {
      guest: ['echo', 'list_products'],
      user: ['create_ticket', 'echo', 'list_products', 'progress', 'search_docs', 'slow'],
      analyst: ['echo', 'list_products', 'query_customer_data', 'read_customer', 'search_docs'],
      admin: [
        'create_ticket',
        'delete_customer',
        'echo',
        'export_customers',
        'list_products',
        'progress',
        'query_customer_data',
        'read_customer',
        'run_sql',
        'search_docs',
        'slow',
        'update_customer',
      ],
    };
    for (const [role, tools] of Object.entries(expected)) {
      const c = await client([role]);
      const listed = (await c.listTools()).tools.map((t) => t.name).sort();
      expect(listed, role).toEqual(tools);
    }
  });

  it('forwards allowed calls and answers them', async () => {
    const c = await client(['analyst']);
    const r = await c.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-1' } });
    expect(r.isError).toBeFalsy();
    expect(JSON.stringify(r.content)).toContain('c-1');
  });

  it('denies with a JSON-RPC error, and the upstream never sees the call', async () => {
    const c = await client(['user']);
    h.upstream.resetCalls();
    const err = await c
      .callTool({ name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-2' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    const e = err as McpError;
    expect(e.code).toBe(-32003);
    expect(e.message).toMatch(/Forbidden: /);
    const data = e.data as { reasons: string[]; decision_id: string; code: string };
    expect(data.code).toBe('ERR_POLICY_DENIED');
    expect(data.reasons.length).toBeGreaterThan(0);
    expect(data.decision_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(h.upstream.calls().filter((x) => x.name === 'delete_customer')).toEqual([]);
  });

  it("keeps resources to the caller's tenant: other tenants' customers are neither listed nor read", async () => {
    const c = await client(['analyst']); // tenant acme
    const listed = (await c.listResources()).resources.map((r) => r.uri).sort();
    expect(listed).toEqual([
      'crm://acme/customers/c-1',
      'crm://acme/customers/c-2',
      'crm://acme/customers/c-3',
      'docs://handbook',
    ]);
    const own = await c.readResource({ uri: 'crm://acme/customers/c-1' });
    expect(JSON.stringify(own.contents)).toContain('"tenant\\":\\"acme\\"');

    h.upstream.resetCalls();
    const err = await c.readResource({ uri: 'crm://globex/customers/c-4' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).message).toContain(
      'Forbidden: resource crm://globex/customers/c-4 is not in your tenant acme',
    );
    expect(h.upstream.calls().filter((x) => x.method === 'resources/read')).toEqual([]);

    // A cross-tenant role reads and lists every tenant's customers.
    const admin = await client(['admin']);
    const all = (await admin.listResources()).resources.map((r) => r.uri);
    expect(all).toContain('crm://globex/customers/c-4');
    const theirs = await admin.readResource({ uri: 'crm://globex/customers/c-4' });
    expect(JSON.stringify(theirs.contents)).toContain('"tenant\\":\\"globex\\"');
  });

  it('never forwards the client token and replaces identity headers', async () => {
    const c = await client(['analyst']);
    h.upstream.resetCalls();
    await c.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const call = h.upstream.calls().find((x) => x.name === 'echo');
    expect(call).toBeDefined();
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.headers['x-mcp-authz-subject']).toBe('user-analyst');
    expect(call?.headers['x-mcp-authz-tenant']).toBe('acme');
  });

  it('passes on none of the client’s traceparent, baggage or tracestate, traced or not', async () => {
    const withHeaders = async (extra: Record<string, string>) => {
      const c = await connectStreamable(h.mcpUrl, { ...(await h.bearer(['analyst'])), ...extra });
      clients.push(c);
      return c;
    };
    const c = await withHeaders({
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=client',
      baggage: 'user.id=admin,tenant=globex',
    });
    h.upstream.resetCalls();
    await c.callTool({ name: 'echo', arguments: { text: 'hi' } });
    const call = h.upstream.calls().find((x) => x.name === 'echo');
    expect(call?.headers.baggage).toBeUndefined();
    expect(call?.headers.tracestate).toBeUndefined();
    // Traces are not exported here, so the sidecar has no span to pass on: nor the client's traceparent,
    // whose sampled flag would decide the upstream's sampling.
    expect(call?.headers.traceparent).toBeUndefined();
    // Without a trace context the client's baggage is dropped all the same.
    const bare = await withHeaders({ baggage: 'user.id=admin', tracestate: 'vendor=client' });
    h.upstream.resetCalls();
    await bare.callTool({ name: 'echo', arguments: { text: 'again' } });
    const again = h.upstream.calls().find((x) => x.name === 'echo');
    expect(again?.headers.baggage).toBeUndefined();
    expect(again?.headers.tracestate).toBeUndefined();
  });
});

describe('HTTP-level refusals', () => {
  const post = (body: string, headers: Record<string, string> = {}) => postJsonRpc(h.mcpUrl, headers, body);

  it('401 with WWW-Authenticate naming the resource metadata', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(
      'Bearer resource_metadata="https://mcp.test.example/.well-known/oauth-protected-resource/mcp"',
    );
    const bad = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { authorization: 'Bearer not.a.jwt' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(
      /^Bearer error="invalid_token", error_description="[^"]+", resource_metadata=/,
    );
  });

  it('names the required scopes in the 401 challenge and the metadata (MCP 2025-11-25 scope selection)', async () => {
    const scoped = await startHarness({
      upstream: h.upstream,
      issuer: h.issuer,
      config: { authn: { jwt: { requiredScopes: ['mcp:tools'] } } },
    });
    try {
      const res = await postJsonRpc(scoped.mcpUrl, {}, '{"jsonrpc":"2.0","id":1,"method":"ping"}');
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        'Bearer resource_metadata="https://mcp.test.example/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"',
      );
      const meta = await fetch(`${scoped.sidecar.publicUrl}/.well-known/oauth-protected-resource/mcp`);
      expect(((await meta.json()) as Record<string, unknown>).scopes_supported).toEqual(['mcp:tools']);
    } finally {
      await scoped.stop();
    }
  });

  it('answers an anonymous caller the policy denies (authn.mode optional) with the 401 challenge', async () => {
    const optional = await startHarness({
      upstream: h.upstream,
      issuer: h.issuer,
      config: { authn: { mode: 'optional' } },
    });
    try {
      h.upstream.resetCalls();
      const call =
        '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}';
      const res = await postJsonRpc(optional.mcpUrl, {}, call);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+"$/);
      const body = (await res.json()) as { id: number; error: { data: { code: string; reasons: string[] } } };
      expect(body.id).toBe(3);
      expect(body.error.data.code).toBe('ERR_AUTHN_MISSING');
      expect(body.error.data.reasons.length).toBeGreaterThan(0);
      // Its reasons are cut as a signed-in caller's are: one quoting a 300 KB tool name is no 300 KB reply.
      const long = JSON.stringify({
        jsonrpc: '2.0',
        id: 4,
        method: 'tools/call',
        params: { name: `t${'x'.repeat(300_000)}`, arguments: {} },
      });
      const cut = await postJsonRpc(optional.mcpUrl, {}, long);
      expect(cut.status).toBe(401);
      expect((await cut.text()).length).toBeLessThan(4_000);
      // What no sign-in cures is answered as it is: arguments over policy.maxArgumentValues.
      const padded = JSON.stringify({
        jsonrpc: '2.0',
        id: 5,
        method: 'tools/call',
        params: { name: 'echo', arguments: { pad: new Array(10_000).fill(0) } },
      });
      const tooLarge = await postJsonRpc(optional.mcpUrl, {}, padded);
      expect(tooLarge.status).toBe(200);
      expect(await tooLarge.json()).toMatchObject({ id: 5, error: { code: -32602 } });
      // (The sidecar's own tools/list, to learn the unseen tool's annotations, may have gone upstream.)
      expect(h.upstream.calls().filter((c) => c.method === 'tools/call')).toEqual([]);
    } finally {
      await optional.stop();
    }
  });

  it('serves RFC 9728 metadata at the root and the path-suffixed URI', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource',
      '/.well-known/oauth-protected-resource/mcp',
    ]) {
      const res = await fetch(`${h.sidecar.publicUrl}${path}`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc.resource).toBe('https://mcp.test.example/mcp');
      expect(doc.authorization_servers).toEqual([h.issuer.issuer]);
    }
    // A suffix naming another path is no resource served here (RFC 9728 §3: the document must name the
    // resource its URI was built from).
    const other = await fetch(`${h.sidecar.publicUrl}/.well-known/oauth-protected-resource/admin`);
    expect(other.status).toBe(404);
    expect(await other.text()).not.toContain('authorization_servers');
  });

  it('maps malformed input to JSON-RPC errors without touching the upstream', async () => {
    const auth = await h.bearer(['admin']);
    h.upstream.resetCalls();
    const parse = await post('{"jsonrpc":', auth);
    expect(parse.status).toBe(400);
    expect(((await parse.json()) as { error: { code: number } }).error.code).toBe(-32700);
    const invalid = await post('{"jsonrpc":"1.0","id":1,"method":"ping"}', auth);
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: number } }).error.code).toBe(-32600);
    // A number the policy would read as null; arguments it would read as none: neither reaches the upstream.
    const huge = await post(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":1e400}}}',
      auth,
    );
    expect(huge.status).toBe(400);
    expect(((await huge.json()) as { error: { code: number } }).error.code).toBe(-32600);
    // Keys a Go server would match without case (CVE-2026-27896): decided as echo, run as another call.
    const folded = await post(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","Name":"delete_customer","arguments":{"text":"x"}}}',
      auth,
    );
    expect(folded.status).toBe(400);
    expect(((await folded.json()) as { error: { message: string } }).error.message).toMatch(
      /differ only in case/,
    );
    for (const args of ['["x"]', '"tenant=globex"']) {
      const notObject = await post(
        `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":${args}}}`,
        auth,
      );
      expect(await notObject.json()).toMatchObject({
        id: 2,
        error: { code: -32003, message: 'Forbidden: arguments must be a JSON object' },
      });
    }
    const big = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { x: 'a'.repeat(2_000_000) } }),
      auth,
    );
    expect(big.status).toBe(413);
    const type = await fetch(h.mcpUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', ...auth },
      body: '{}',
    });
    expect(type.status).toBe(415);
    const version = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      ...auth,
      'mcp-protocol-version': '1999-01-01',
    });
    expect(version.status).toBe(400);
    // MCP 2026-07-28's UnsupportedProtocolVersionError: a modern client retries with one it lists.
    expect(await version.json()).toMatchObject({
      id: 1,
      error: {
        code: -32022,
        data: { supported: expect.arrayContaining(['2026-07-28']), requested: '1999-01-01' },
      },
    });
    const mismatch = await post(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}',
      {
        ...auth,
        'mcp-method': 'tools/call',
        'mcp-name': 'run_sql',
      },
    );
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { error: { code: number } }).error.code).toBe(-32020);
    const origin = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      ...auth,
      origin: 'https://evil.example',
    });
    expect(origin.status).toBe(403);
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses arguments of more JSON values than policy.maxArgumentValues before the policy, forwarding nothing', async () => {
    const auth = await h.bearer(['admin']);
    const padCalls = () =>
      h.upstream.calls().filter((c) => c.method === 'tools/call' && JSON.stringify(c).includes('"pad"'))
        .length;
    // Arguments of more JSON values than policy.maxArgumentValues (10,000): refused before the policy, whose
    // memory would keep growing by about 200 bytes a value; one value fewer is decided (and runs).
    const padded = (n: number, id: number) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'hi', pad: new Array(n).fill(0) } },
      });
    const over = await post(padded(9_998, 3), auth);
    expect(await over.json()).toMatchObject({
      id: 3,
      error: {
        code: -32602,
        message: 'Invalid params: the arguments hold more than 10000 JSON values (policy.maxArgumentValues)',
      },
    });
    expect(padCalls()).toBe(0);
    const within = await post(padded(9_997, 4), auth);
    expect(await within.text()).not.toContain('maxArgumentValues');
    expect(padCalls()).toBe(1);
    // In a batch, each message gets its own answer: the other call is not forwarded, and says why.
    const ok = {
      jsonrpc: '2.0',
      id: 5,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'ok' } },
    };
    const batch = await post(JSON.stringify([ok, JSON.parse(padded(9_998, 6))]), auth);
    expect(await batch.json()).toEqual([
      expect.objectContaining({
        id: 5,
        error: expect.objectContaining({ message: expect.stringMatching(/^Not forwarded/) }),
      }),
      expect.objectContaining({ id: 6, error: expect.objectContaining({ code: -32602 }) }),
    ]);
    expect(padCalls()).toBe(1);
  });

  it('cuts a denial reason quoting what the caller sent, as the audit does, instead of echoing a megabyte', async () => {
    const auth = await h.bearer(['user']);
    const tool = `t${'x'.repeat(200_000)}`;
    const res = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: tool, arguments: {} } }),
      auth,
    );
    const text = await res.text();
    expect(text.length).toBeLessThan(4_000);
    const body = JSON.parse(text) as { error: { message: string; data: { reasons: string[] } } };
    expect(body.error.message).toMatch(/^Forbidden: .*txxxx.*…$/);
    expect(body.error.message.length).toBeLessThanOrEqual('Forbidden: '.length + 1_025);
    for (const r of body.error.data.reasons) expect(r.length).toBeLessThanOrEqual(1_025);
  });

  it('answers each message of a batch with a denied member, forwarding none', async () => {
    const auth = await h.bearer(['user']);
    h.upstream.resetCalls();
    const res = await post(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
        {
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'run_sql', arguments: { query: 'drop' } },
        },
        { jsonrpc: '2.0', method: 'notifications/progress', params: {} },
      ]),
      auth,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as Array<{ id: number; error: { code: number; message: string } }>;
    expect(body.map((m) => m.id)).toEqual([1, 2]);
    expect(body[0]?.error.message).toMatch(/Not forwarded/);
    expect(body[1]?.error.message).toMatch(/^Forbidden: /);
    expect(h.upstream.calls()).toEqual([]);
  });
});

describe('session ownership', () => {
  /** Initializes a session through the sidecar as `caller`; the headers that name it on later requests. */
  async function openSession(caller: Record<string, string>): Promise<Record<string, string>> {
    const init = await postJsonRpc(h.mcpUrl, caller, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    });
    expect(init.status).toBe(200);
    await init.text();
    const session = init.headers.get('mcp-session-id');
    expect(session).toBeTruthy();
    return { 'mcp-session-id': session as string, 'mcp-protocol-version': '2025-06-18' };
  }

  it('answers 404 to a caller naming a session another caller created', async () => {
    const alice = await h.bearer(['analyst'], { sub: 'alice' });
    const mallory = await h.bearer(['analyst'], { sub: 'mallory' });
    const headers = await openSession(alice);
    const ping = { jsonrpc: '2.0', id: 2, method: 'ping' };
    h.upstream.resetCalls();
    const stolen = await postJsonRpc(h.mcpUrl, { ...mallory, ...headers }, ping);
    expect(stolen.status).toBe(404);
    expect(((await stolen.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      'ERR_REQUEST_SESSION',
    );
    const stream = await fetch(h.mcpUrl, {
      headers: { ...mallory, ...headers, accept: 'text/event-stream' },
    });
    expect(stream.status).toBe(404);
    await stream.text();
    expect(h.upstream.calls()).toEqual([]);
    const own = await postJsonRpc(h.mcpUrl, { ...alice, ...headers }, ping);
    expect(own.status).toBe(200);
    await own.text();
  });

  it('drops the binding of a session the upstream answered 404 for: its id is then refused here, unforwarded', async () => {
    const alice = await h.bearer(['analyst'], { sub: 'alice' });
    const headers = await openSession(alice);
    // The upstream ends the session on its own (a restart, its own idle timeout): a DELETE straight to it.
    const direct = await fetch(h.upstream.mcpUrl, { method: 'DELETE', headers });
    expect(direct.status).toBe(200);
    await direct.text();
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    const gone = await postJsonRpc(h.mcpUrl, { ...alice, ...headers }, ping(2));
    expect(gone.status).toBe(404);
    await gone.text();
    // Kept bound, the id would stay the caller's and go upstream again; dropped, it is an unknown session.
    h.upstream.resetCalls();
    const again = await postJsonRpc(h.mcpUrl, { ...alice, ...headers }, ping(3));
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      'ERR_REQUEST_SESSION',
    );
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses a session this replica never saw issued (404, not forwarded); `forward` lets the upstream decide', async () => {
    const alice = await h.bearer(['analyst'], { sub: 'alice' });
    const headers = await openSession(alice);
    // Two more replicas in front of the same upstream (the session lives there), one per setting.
    const rejecting = await startHarness({ upstream: h.upstream, issuer: h.issuer });
    const forwarding = await startHarness({
      upstream: h.upstream,
      issuer: h.issuer,
      config: { server: { unknownSessions: 'forward' } },
    });
    try {
      h.upstream.resetCalls();
      const refused = await postJsonRpc(
        rejecting.mcpUrl,
        { ...alice, ...headers },
        { jsonrpc: '2.0', id: 2, method: 'ping' },
      );
      expect(refused.status).toBe(404);
      expect(((await refused.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
        'ERR_REQUEST_SESSION',
      );
      expect(h.upstream.calls()).toEqual([]);
      const forwarded = await postJsonRpc(
        forwarding.mcpUrl,
        { ...alice, ...headers },
        { jsonrpc: '2.0', id: 3, method: 'ping' },
      );
      expect(forwarded.status).toBe(200);
      await forwarded.text();
      expect(h.upstream.calls().map((c) => [c.method, c.id])).toEqual([['ping', 3]]);
    } finally {
      await Promise.all([rejecting.stop(), forwarding.stop()]);
    }
  });
});
