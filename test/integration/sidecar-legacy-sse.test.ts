/**
 * End to end over the legacy HTTP+SSE transport: the SDK's SSEClientTransport through the sidecar to the
 * example server's SSE endpoint. Denied requests are answered on the session's stream, except an anonymous
 * caller's (`authn.mode: optional`) that signing in would cure: that is the 401 challenge on its POST.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER_NAME } from '../../examples/mcp-server/catalog.js';
import { postAfterContinue } from '../helpers/http.js';
import { connectSse } from '../helpers/mcp-client.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

let h: Harness;
const clients: Client[] = [];

async function client(roles: string[]): Promise<Client> {
  const c = await connectSse(h.sseUrl, await h.bearer(roles));
  clients.push(c);
  return c;
}

/**
 * The sidecar's messages path: not the example server's own `/messages`, so a client could only reach it by the
 * endpoint event the sidecar rewrote (passed on unchanged, the event would send it to a path the sidecar does
 * not serve).
 */
const MESSAGES_PATH = '/authz/messages';

beforeAll(async () => {
  h = await startHarness({ config: { server: { legacyMessagesPath: MESSAGES_PATH } } });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await h?.stop();
});

describe('legacy HTTP+SSE through the sidecar', () => {
  it('rewrites the endpoint event to the sidecar and initializes', async () => {
    const posted: string[] = [];
    const recording: FetchLike = (url, init) => {
      if (init?.method === 'POST') posted.push(String(url));
      return fetch(url, init);
    };
    const c = await connectSse(h.sseUrl, await h.bearer(['guest']), { fetch: recording });
    clients.push(c);
    expect(c.getServerVersion()?.name).toBe(SERVER_NAME);
    // The client posted to the sidecar's messages path, naming the upstream's session, which got them on
    // its own path (the example server records only what reaches its /messages).
    const sessionId = new URL(posted[0] ?? h.sseUrl).searchParams.get('sessionId');
    expect(posted[0]).toBe(`${h.sidecar.publicUrl}${MESSAGES_PATH}?sessionId=${sessionId}`);
    const calls = h.upstream.calls().filter((x) => x.transport === 'sse' && x.sessionId === sessionId);
    expect(calls.map((x) => x.method)).toContain('initialize');
  });

  it('prunes tools/list on the stream', async () => {
    const c = await client(['guest']);
    const listed = (await c.listTools()).tools.map((t) => t.name).sort();
    expect(listed).toEqual(['echo', 'list_products']);
  });

  it('forwards allowed calls and answers denied ones on the stream', async () => {
    const c = await client(['analyst']);
    const ok = await c.callTool({ name: 'read_customer', arguments: { tenant: 'acme', id: 'c-2' } });
    expect(JSON.stringify(ok.content)).toContain('c-2');
    h.upstream.resetCalls();
    const err = await c
      .callTool({ name: 'run_sql', arguments: { query: 'select 1' } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32003);
    expect((err as McpError).message).toMatch(/Forbidden: /);
    expect(h.upstream.calls().filter((x) => x.name === 'run_sql')).toEqual([]);
  });

  it('counts a served stream in the request metrics once it ends', async () => {
    const served = async (): Promise<number> => {
      const text = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('mcp_authz_requests_total{route="legacy_sse",status="200"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const before = await served();
    const c = await connectSse(h.sseUrl, await h.bearer(['guest']));
    await c.close();
    await expect.poll(served, { timeout: 5_000 }).toBe(before + 1);
  });

  it('audits a call whose session ended while its stages ran as refused (404, never forwarded), not allowed', async () => {
    const posted: string[] = [];
    const recording: FetchLike = (url, init) => {
      if (init?.method === 'POST') posted.push(String(url));
      return fetch(url, init);
    };
    const auth = await h.bearer(['guest'], { sub: 'gone-mid-call' });
    const c = await connectSse(h.sseUrl, auth, { fetch: recording });
    // The stream's GET as the upstream got it (by the identity header): its x-request-id names its log lines.
    const opened = h.upstream
      .httpRequests()
      .find((r) => r.method === 'GET' && r.headers['x-mcp-authz-subject'] === 'gone-mid-call');
    const streamLine = `"request_id":"${opened?.headers['x-request-id']}"`;
    const text = 'sent-after-its-session-ended';
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text } },
    });
    const res = await postAfterContinue(posted[0] ?? '', auth, body, async () => {
      // The POST passed the session stage; now its stream ends. The stream's end is logged, and its session
      // dropped, in one turn: once the line is there, the session is gone.
      await c.close();
      await until(5_000, async () =>
        h.logs.some((l) => l.includes(streamLine) && l.includes('"msg":"request forwarded"')),
      );
    });
    expect(res.status).toBe(404);
    expect(h.upstream.calls().some((x) => JSON.stringify(x).includes(text))).toBe(false);
    const records = () =>
      h.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"gone-mid-call"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => (r.action as { tool: string | null }).tool === 'echo');
    await until(5_000, async () => records().length > 0);
    expect(records()).toEqual([
      expect.objectContaining({ decision: 'deny', deny_reason: 'request', enforced: true, upstream: null }),
    ]);
    expect(records()[0]?.reasons).toContain('the session ended before the request was forwarded');
  });

  it('answers a denied call whose session ended while its stages ran 404 too: a 200 would leave the SDK client waiting', async () => {
    const posted: string[] = [];
    const recording: FetchLike = (url, init) => {
      if (init?.method === 'POST') posted.push(String(url));
      return fetch(url, init);
    };
    const auth = await h.bearer(['guest'], { sub: 'gone-mid-denial' });
    const c = await connectSse(h.sseUrl, auth, { fetch: recording });
    const opened = h.upstream
      .httpRequests()
      .find((r) => r.method === 'GET' && r.headers['x-mcp-authz-subject'] === 'gone-mid-denial');
    const streamLine = `"request_id":"${opened?.headers['x-request-id']}"`;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'run_sql', arguments: { query: 'select 1' } },
    });
    const res = await postAfterContinue(posted[0] ?? '', auth, body, async () => {
      await c.close();
      await until(5_000, async () =>
        h.logs.some((l) => l.includes(streamLine) && l.includes('"msg":"request forwarded"')),
      );
    });
    // The SDK's SSEClientTransport.send checks `response.ok` only and never reads a POST's body: with the
    // denial's 200 it took the call as accepted, its answer to come on a stream that is gone (the call then
    // waited for its timeout, a minute by default). A 404 makes send() throw: the call fails at once.
    expect(res.status).toBe(404);
    expect(JSON.parse(res.text)).toMatchObject({
      id: 3,
      error: { code: -32600, data: { code: 'ERR_REQUEST_SESSION' } },
    });
    // Audited as what the policy said.
    const records = () =>
      h.logs
        .filter((l) => l.includes('"log_type":"audit"') && l.includes('"id":"gone-mid-denial"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => (r.action as { tool: string | null }).tool === 'run_sql');
    await until(5_000, async () => records().length > 0);
    expect(records()).toEqual([
      expect.objectContaining({ decision: 'deny', deny_reason: 'policy', upstream: null }),
    ]);
  });

  it('refuses a stream without credentials and posts to another caller’s session', async () => {
    const anon = await fetch(h.sseUrl, { headers: { accept: 'text/event-stream' } });
    expect(anon.status).toBe(401);
    await anon.body?.cancel();
    const owner = await h.bearer(['admin']);
    const res = await fetch(h.sseUrl, { headers: { accept: 'text/event-stream', ...owner } });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('sessionId=')) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(text)?.[1] ?? '';
    expect(endpoint.startsWith(`${MESSAGES_PATH}?sessionId=`)).toBe(true);
    const other = await h.bearer(['guest'], { sub: 'someone-else' });
    const post = await fetch(`${h.sidecar.publicUrl}${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...other },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      }),
    });
    expect(post.status).toBe(404);
    // Refused before it is decided: no audit record says a call to another's session was allowed.
    expect(h.logs.some((l) => l.includes('"log_type":"audit"') && l.includes('"id":"someone-else"'))).toBe(
      false,
    );
    await reader.cancel();
  });

  it('refuses a message naming a Streamable HTTP session too, before its ids could be held in that session', async () => {
    const owner = await h.bearer(['admin']);
    const res = await fetch(h.sseUrl, { headers: { accept: 'text/event-stream', ...owner } });
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('sessionId=')) text += new TextDecoder().decode((await reader.read()).value);
    const endpoint = /data: (\S+)/.exec(text)?.[1] ?? '';
    const text0 = 'legacy-with-session-header';
    const post = await fetch(`${h.sidecar.publicUrl}${endpoint}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'mcp-session-id': 'someone-elses-session', ...owner },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: text0 } },
      }),
    });
    expect(post.status).toBe(400);
    // Refused before the body is read, as a post to an unknown session is: so answered as id null.
    expect(await post.json()).toMatchObject({
      id: null,
      error: { code: -32600, message: /send no Mcp-Session-Id header/ },
    });
    expect(h.upstream.calls().some((c) => JSON.stringify(c).includes(text0))).toBe(false);
    await reader.cancel();
  });

  it('answers an anonymous caller the policy denies (authn.mode optional) with the 401 challenge on its POST, not on the stream', async () => {
    const optional = await startHarness({
      upstream: h.upstream,
      issuer: h.issuer,
      config: { authn: { mode: 'optional' }, server: { legacyMessagesPath: MESSAGES_PATH } },
    });
    const res = await fetch(optional.sseUrl, { headers: { accept: 'text/event-stream' } });
    const reader = res.body!.getReader();
    try {
      expect(res.status).toBe(200);
      let text = '';
      const readUntil = async (what: string) => {
        while (!text.includes(what)) text += new TextDecoder().decode((await reader.read()).value);
      };
      await readUntil('sessionId=');
      const endpoint = /data: (\S+)/.exec(text)?.[1] ?? '';
      const post = (id: number, args: Record<string, unknown>) =>
        fetch(`${optional.sidecar.publicUrl}${endpoint}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: 'echo', arguments: args },
          }),
        });
      // On the stream the client would read a "Forbidden" it cannot act on; the 401 with the challenge is
      // what makes an MCP client sign in and ask again.
      const denied = await post(8, { text: 'hi' });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata="[^"]+"$/);
      expect(await denied.json()).toMatchObject({ id: 8, error: { data: { code: 'ERR_AUTHN_MISSING' } } });
      // What no sign-in cures (arguments over policy.maxArgumentValues) is answered on the stream as a
      // signed-in caller's denial is, after anything the stream carried for the first POST.
      const refused = await post(9, { pad: new Array(10_000).fill(0) });
      expect(refused.status).toBe(202);
      await refused.text();
      await readUntil('"id":9');
      expect(text).toMatch(/"id":9,"error":\{"code":-32602/);
      expect(text).not.toContain('"id":8');
    } finally {
      await reader.cancel();
      await optional.stop();
    }
  });
});
