/**
 * Ways a caller tried to get past the policy or the list pruning, each found by a review against a running
 * sidecar and each refused here through the real sidecar and real upstreams (the MCP SDK's server
 * transport, or a raw `node:http` upstream where the attack needs a misbehaving one):
 *
 * - a body in another charset, read as UTF-8 here but decoded as UTF-7 upstream (415, never forwarded);
 * - a batch of two list requests sharing an id (400: one reply would be pruned as the other);
 * - a request without an id that is no notification (400: it would pass undecided);
 * - a GET stream resumed with `Last-Event-ID`, replaying an earlier `tools/list` reply (pruned);
 * - a request reusing the id of a list request still in flight in the session (400), also once the
 *   client cut that request's SSE reply (held for the upstream's late answer);
 * - a list in the reply to another request of a session, a tools/call's say (pruned), also in the body of
 *   a legacy messages POST the upstream answered there rather than on the stream (pruned for that caller);
 * - a list reply the sidecar cannot read — not JSON, or compressed — (502, not passed on);
 * - a client gone mid-body (a typed 499 denial, not an unhandled error).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { initializedSession } from '../helpers/http.js';
import { OrderedEventStore } from '../helpers/ordered-event-store.js';
import { startSdkUpstream } from '../helpers/sdk-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

const TOOLS = ['echo', 'delete_customer'];
const GUEST_SEES = ['echo'];

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function harness(upstream?: { url: string }): Promise<Harness> {
  const h = await startHarness(
    upstream ? { upstream: upstream as unknown as ExampleServer } : { upstreamStateless: true },
  );
  stops.push(() => h.stop());
  return h;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stops.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * An SDK Streamable HTTP upstream (stateful) listing TOOLS; `tools/list` id 1 waits for `gate` and every
 * `tools/call` for `callGate`, when given.
 */
async function sdkUpstream(
  opts: { eventStore?: boolean; gate?: Promise<void>; entered?: () => void; callGate?: Promise<void> } = {},
) {
  const upstream = await startSdkUpstream(
    async (t) => {
      const server = new McpServer({ name: 'tools', version: '1' }, { capabilities: { tools: {} } });
      server.setRequestHandler(ListToolsRequestSchema, async (_request, extra) => {
        if (extra.requestId === 1) {
          opts.entered?.();
          await opts.gate;
        }
        return {
          tools: TOOLS.map((name) => ({
            name,
            inputSchema: { type: 'object' as const },
            annotations: {
              readOnlyHint: name === 'echo',
              destructiveHint: name !== 'echo',
              openWorldHint: false,
            },
          })),
        };
      });
      server.setRequestHandler(CallToolRequestSchema, async () => {
        await opts.callGate;
        return { content: [] };
      });
      await server.connect(t);
    },
    opts.eventStore ? () => new OrderedEventStore() : undefined,
  );
  return { url: upstream.url };
}

/** A promise and the function that resolves it (a gate the test opens, or an event it waits for). */
function signal(): [Promise<void>, () => void] {
  let fire!: () => void;
  const fired = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return [fired, fire];
}

/** POSTs `body` to the sidecar as a guest (stateless, no session). */
async function postAsGuest(h: Harness, body: string, contentType = 'application/json'): Promise<Response> {
  return fetch(h.mcpUrl, {
    method: 'POST',
    headers: {
      ...(await h.bearer(['guest'])),
      accept: 'application/json, text/event-stream',
      'content-type': contentType,
    },
    body,
  });
}

const names = (text: string) => [...text.matchAll(/"name":"([a-z_]+)"/g)].map((m) => m[1]);

const session = async (h: Harness, version: string) =>
  initializedSession(h.mcpUrl, await h.bearer(['guest']), version);

describe('request smuggling', () => {
  it('refuses a body in another charset (415) before the upstream sees it', async () => {
    const h = await harness();
    const q = '+ACI-'; // a quote in UTF-7: upstream, the echo call below is a call of delete_customer
    const body = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"${q}},${q}name${q}:${q}delete_customer${q},${q}arguments${q}:{${q}tenant${q}:${q}acme${q},${q}id${q}:${q}c-2"}}}`;
    const res = await postAsGuest(h, body, 'application/json; charset=utf-7');
    expect(res.status).toBe(415);
    expect(await res.text()).toContain('charset utf-7 is not accepted');
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses a batch whose list requests share an id (400), forwarding nothing', async () => {
    const h = await harness();
    const res = await postAsGuest(
      h,
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 1, method: 'prompts/list' },
      ]),
    );
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: { code: -32600, message: /request id 1 is used twice/ },
    });
    expect(h.upstream.calls()).toEqual([]);
  });

  it('refuses a tools/call without an id (400): it would be forwarded without a decision', async () => {
    const h = await harness();
    const res = await postAsGuest(
      h,
      JSON.stringify({
        jsonrpc: '2.0',
        method: 'tools/call',
        params: { name: 'delete_customer', arguments: { tenant: 'acme', id: 'c-2' } },
      }),
    );
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('is a tools/call request without an id');
    expect(h.upstream.calls()).toEqual([]);
  });
});

describe('list replies reaching a caller some other way', () => {
  it('prunes a tools/list reply replayed on a GET stream resumed with Last-Event-ID', async () => {
    const h = await harness(await sdkUpstream({ eventStore: true }));
    const headers = await session(h, '2025-11-25');
    const list = await fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    const text = await list.text();
    expect(names(text)).toEqual(GUEST_SEES);
    const primed = /^id: (\S+)$/m.exec(text)?.[1];
    expect(primed).toBeTruthy();

    const resumed = await fetch(h.mcpUrl, {
      method: 'GET',
      headers: { ...headers, 'last-event-id': primed as string },
      signal: AbortSignal.timeout(5_000),
    });
    expect(resumed.status).toBe(200);
    const reader = (resumed.body as ReadableStream<Uint8Array>).getReader();
    let replayed = '';
    while (!replayed.includes('"tools"')) {
      const { value, done } = await reader.read();
      if (done) break;
      replayed += Buffer.from(value).toString();
    }
    await reader.cancel();
    expect(names(replayed)).toEqual(GUEST_SEES);
  });

  it('refuses a request reusing the id of a list request in flight in the session (400)', async () => {
    const [gate, open] = signal();
    const [listing, entered] = signal();
    const h = await harness(await sdkUpstream({ gate, entered }));
    const headers = await session(h, '2025-06-18');
    const first = fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    }).then((r) => r.text());
    await listing; // the upstream is answering tools/list id 1

    const reuse = await fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' } },
      }),
    });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({
      error: { code: -32600, message: /request id 1 is already in flight in this session/ },
    });
    open();
    expect(names(await first)).toEqual(GUEST_SEES);
    // Once answered, the id may be used again.
    const again = await fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(names(await again.text())).toEqual(GUEST_SEES);
  });

  it('holds the id of a request whose SSE reply its client cut: a POST reusing it is refused (400), not handed that reply', async () => {
    const [gate, open] = signal();
    const [listing, entered] = signal();
    const h = await harness(await sdkUpstream({ gate, entered }));
    const headers = await session(h, '2025-06-18');
    const cut = new AbortController();
    const first = await fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      signal: cut.signal,
    });
    expect(first.headers.get('content-type')).toMatch(/text\/event-stream/);
    await listing;
    const forwarded = () => h.logs.filter((l) => l.includes('request forwarded')).length;
    const before = forwarded();
    cut.abort(); // the SSE reply had begun; the upstream is still working on id 1
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'x' } },
    });
    // Once the sidecar saw the cut (the request is done), id 1 is held for the upstream's late reply.
    await until(5_000, async () => forwarded() > before);
    const reuse = await fetch(h.mcpUrl, { method: 'POST', headers, body: call });
    expect(reuse.status).toBe(400);
    expect(await reuse.json()).toMatchObject({
      error: {
        code: -32600,
        message: expect.stringMatching(/request id 1 is already in flight in this session/),
      },
    });
    open();
  });

  it.each([
    ['not JSON (a byte order mark first)', {}, (json: string) => Buffer.from(`\uFEFF${json}`)],
    ['compressed', { 'content-encoding': 'gzip' }, (json: string) => gzipSync(json)],
    // Neither JSON nor an event stream: a client reading it anyway would see every tool.
    [
      'of another media type (text/plain)',
      { 'content-type': 'text/plain' },
      (json: string) => Buffer.from(json),
    ],
    // An event stream in another coding than gzip: read as text, no event would be found to prune.
    [
      'an event stream compressed with br',
      { 'content-type': 'text/event-stream', 'content-encoding': 'br' },
      (json: string) => brotliCompressSync(`event: message\ndata: ${json}\n\n`),
    ],
  ])('answers 502 rather than pass on a list reply that is %s', async (_what, extra, encode) => {
    const reply = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      result: { tools: TOOLS.map((name) => ({ name, inputSchema: { type: 'object' } })) },
    });
    const upstream = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () =>
        res.writeHead(200, { 'content-type': 'application/json', ...extra }).end(encode(reply)),
      );
    });
    const h = await harness({ url: await listen(upstream) });
    const res = await postAsGuest(h, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ id: 1, error: { data: { code: 'ERR_UPSTREAM_REPLY' } } });
    expect(body).not.toContain('delete_customer');
  });
});

describe('a list in the reply to another request of a session', () => {
  const tools = TOOLS.map((name) => ({
    name,
    inputSchema: { type: 'object' },
    annotations: { readOnlyHint: name === 'echo', destructiveHint: name !== 'echo', openWorldHint: false },
  }));

  it('is pruned: in a session any POST may carry another request’s reply', async () => {
    // Answers `initialize` with a session, notifications with 202, and every other request with the whole
    // tool list, whatever it asked: a tools/call's reply carrying a list the caller may not see.
    const upstream = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const msg = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as {
          id?: number;
          method?: string;
        };
        if (msg.id === undefined) {
          res.writeHead(202).end();
          return;
        }
        const init = msg.method === 'initialize';
        const result = init
          ? {
              protocolVersion: '2025-06-18',
              capabilities: { tools: {} },
              serverInfo: { name: 'raw', version: '1' },
            }
          : { tools };
        const text = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
        res
          .writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            ...(init ? { 'mcp-session-id': 'raw-session-1' } : {}),
          })
          .end(text);
      });
    });
    const h = await harness({ url: await listen(upstream) });
    const headers = await session(h, '2025-06-18');
    const res = await fetch(h.mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 7,
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      }),
    });
    expect(res.status).toBe(200);
    expect(names(await res.text())).toEqual(GUEST_SEES);
  });

  it('is pruned for the POST’s caller on the legacy messages endpoint, when the upstream answers in the POST’s body', async () => {
    // A legacy HTTP+SSE upstream that answers every POSTed request in the POST's own body (200) rather than on
    // the stream, and with the whole tool list whatever was asked: a tools/call's reply carrying a list. The
    // transport answers on the stream, but a reply in the body reaches the client all the same.
    const upstream = createServer((req: IncomingMessage, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write(`event: endpoint\ndata: /messages?sessionId=${randomUUID()}\n\n`);
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const msg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number };
        const text = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { tools } });
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
          .end(text);
      });
    });
    const h = await harness({ url: await listen(upstream) });
    /** Opens a legacy stream for `auth` and POSTs a tools/call to its session: the POST's reply body. */
    const callInOwnSession = async (auth: Record<string, string>): Promise<string> => {
      const stream = await fetch(h.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } });
      expect(stream.status).toBe(200);
      const reader = (stream.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      while (!text.includes('sessionId=')) text += Buffer.from((await reader.read()).value ?? []).toString();
      const endpoint = /data: (\S+)/.exec(text)?.[1] ?? '';
      const res = await fetch(`${h.sidecar.publicUrl}${endpoint}`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'echo', arguments: {} },
        }),
      });
      expect(res.status).toBe(200);
      const body = await res.text();
      await reader.cancel();
      return body;
    };
    // Pruned as each caller's own list would be: the guest's to what a guest sees, the admin's not at all.
    expect(names(await callInOwnSession(await h.bearer(['guest'])))).toEqual(GUEST_SEES);
    expect(names(await callInOwnSession(await h.bearer(['admin'])))).toEqual(TOOLS);
  });
});

describe('a short list reply of known length (read whole by the upstream client)', () => {
  it('is pruned like any other list reply', async () => {
    const tools = TOOLS.map((name) => ({
      name,
      inputSchema: { type: 'object' },
      annotations: { readOnlyHint: name === 'echo', destructiveHint: name !== 'echo', openWorldHint: false },
    }));
    const reply = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools } });
    const upstream = createServer((req: IncomingMessage, res) => {
      req.resume();
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(reply) })
          .end(reply),
      );
    });
    const h = await harness({ url: await listen(upstream) });
    const res = await postAsGuest(h, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(res.status).toBe(200);
    expect(names(await res.text())).toEqual(GUEST_SEES);
  });
});

describe('a client gone mid-body', () => {
  it('is a 499 denial in the logs, not an unhandled error', async () => {
    const h = await harness();
    const auth = await h.bearer(['guest']);
    const url = new URL(h.mcpUrl);
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => undefined);
    // The head and half the declared body, then the end of the connection (data first, then FIN).
    socket.end(
      `POST ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\nauthorization: ${auth.authorization}\r\n` +
        'content-type: application/json\r\ncontent-length: 100\r\n\r\n{"jsonrpc":"2.0",',
    );
    await until(5_000, async () => h.logs.some((l) => l.includes('ERR_CLIENT_CLOSED')));
    const line = h.logs.find((l) => l.includes('ERR_CLIENT_CLOSED')) as string;
    expect(JSON.parse(line)).toMatchObject({ msg: 'request denied', status: 499 });
    expect(h.logs.filter((l) => l.includes('unhandled error'))).toEqual([]);
    expect(h.upstream.calls()).toEqual([]);
  });
});
