/**
 * An upstream that misbehaves at the HTTP level, through a real sidecar in front of a `node:net` upstream
 * (test/helpers/raw-upstream.ts) that writes its replies byte by byte as the test says: no unpruned list
 * and no crash come of it, the client gets a JSON-RPC error it can act on, and no upstream connection or
 * sidecar memory is held forever.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { type RawRequest, type RawUpstream, rawReply, rawUpstream } from '../helpers/raw-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { settlesWithin } from '../helpers/wait.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

async function setup(
  answer: (req: RawRequest, socket: Socket) => void,
  config: Record<string, unknown> = {},
): Promise<{ h: Harness; up: RawUpstream }> {
  const up = await rawUpstream(answer);
  stops.push(() => up.close());
  const h = await startHarness({
    upstream: { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer,
    config,
  });
  stops.push(() => h.stop());
  return { h, up };
}

/** A guest may see `echo`, never `delete_customer`. */
const TOOLS = {
  tools: ['echo', 'delete_customer'].map((name) => ({
    name,
    inputSchema: { type: 'object' },
    annotations: { readOnlyHint: name === 'echo', destructiveHint: name !== 'echo', openWorldHint: false },
  })),
};
const listReply = (id: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result: TOOLS });
const json = (body: string): string =>
  rawReply('200 OK', [
    ['content-type', 'application/json'],
    ['content-length', String(Buffer.byteLength(body))],
  ]);

/** 64 MiB, far past the sidecar's 16 MiB bounds: an upstream that gets to send it all was never cut. */
const FLOOD_BYTES = 64 * 1024 * 1024;

/**
 * An upstream pouring one chunk after another (respecting backpressure) until {@link FLOOD_BYTES} went out
 * or the sidecar cut the connection; `ended` says which, `sent()` how much went.
 */
function flood(): {
  readonly ended: Promise<string>;
  sent(): number;
  pour(socket: Socket, chunk: string, bytes: number): void;
} {
  let sent = 0;
  let end!: (how: string) => void;
  const ended = new Promise<string>((resolve) => {
    end = resolve;
  });
  return {
    ended,
    sent: () => sent,
    pour(socket, chunk, bytes) {
      socket.on('close', () => end('cut by the sidecar'));
      const write = (): void => {
        while (sent < FLOOD_BYTES && !socket.destroyed) {
          sent += bytes;
          if (!socket.write(chunk)) {
            socket.once('drain', write);
            return;
          }
        }
        if (sent >= FLOOD_BYTES) end('all 64 MiB taken');
      };
      write();
    },
  };
}

async function listAsGuest(h: Harness, signal?: AbortSignal): Promise<Response> {
  return postJsonRpc(
    h.mcpUrl,
    await h.bearer(['guest']),
    { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    signal,
  );
}

describe('a list reply under an id the sidecar did not expect', () => {
  it.each([
    ['JSON, id "1" for 1', () => json(listReply('1')) + listReply('1')],
    [
      'SSE, id 99',
      () => {
        const body = `event: message\ndata: ${listReply(99)}\n\n`;
        return (
          rawReply('200 OK', [
            ['content-type', 'text/event-stream'],
            ['content-length', String(Buffer.byteLength(body))],
          ]) + body
        );
      },
    ],
  ])('is pruned all the same (%s)', async (_what, reply) => {
    const { h } = await setup((_req, socket) => socket.write(reply()));
    const res = await listAsGuest(h);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('"echo"');
    expect(text).not.toContain('delete_customer');
  });
});

describe('an SSE list reply whose event never ends', () => {
  it('is cut once the sidecar holds 16 MiB of it, not buffered without bound', async () => {
    const upstream = flood();
    const { h } = await setup((_req, socket) => {
      // One event that begins and never ends: no newline at all, for up to 64 MiB.
      socket.write(
        rawReply('200 OK', [
          ['content-type', 'text/event-stream'],
          ['transfer-encoding', 'chunked'],
        ]),
      );
      const start = 'event: message\ndata: {"tools":[';
      socket.write(`${start.length.toString(16)}\r\n${start}\r\n`);
      upstream.pour(socket, `10000\r\n${'x'.repeat(0x10000)}\r\n`, 0x10000);
    });
    const res = await listAsGuest(h);
    expect(res.status).toBe(200);
    const body = res.text().then(
      (text) => `ended: ${text.length}`,
      () => 'cut',
    );
    expect(await upstream.ended).toBe('cut by the sidecar');
    expect(upstream.sent()).toBeLessThan(FLOOD_BYTES);
    // The client's stream is cut: it never looks like a complete reply.
    expect(await body).toBe('cut');
    expect(h.logs.some((l) => l.includes('upstream SSE event exceeds 16777216 bytes'))).toBe(true);
  });
});

describe('a JSON reply whose body stops mid-way', () => {
  /** An upstream that sends headers and the first bytes of its reply, then nothing; `closed` tells by whom. */
  async function stalling(headers: [string, string][]) {
    let upstreamClosed!: (method: string) => void;
    const closed = new Promise<string>((resolve) => {
      upstreamClosed = resolve;
    });
    const { h } = await setup(
      (req, socket) => {
        socket.on('close', () => upstreamClosed(JSON.parse(req.body).method));
        const chunked = headers.some(([k]) => k === 'transfer-encoding');
        socket.write(rawReply('200 OK', headers));
        socket.write(chunked ? 'a\r\n{"jsonrpc"\r\n' : '{"jsonrpc"');
      },
      { upstream: { bodyTimeoutMs: 300 } },
    );
    return { h, closed };
  }

  it.each([
    ['read whole (Content-Length)', 'ping'],
    ['a list reply to prune', 'tools/list'],
  ])(
    'is answered 504 once it paused upstream.bodyTimeoutMs (%s), freeing the connection',
    async (_what, method) => {
      const { h, closed } = await stalling([
        ['content-type', 'application/json'],
        ['content-length', '100'],
      ]);
      const res = await postJsonRpc(h.mcpUrl, await h.bearer(['guest']), { jsonrpc: '2.0', id: 4, method });
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({
        id: 4,
        error: {
          code: -32005,
          message: 'Upstream MCP server timed out',
          data: { code: 'ERR_UPSTREAM_TIMEOUT' },
        },
      });
      expect(await closed).toBe(method);
      // Counted as an upstream error, though its headers had come (the alerts read this counter).
      const metrics = await (await fetch(`${h.sidecar.adminUrl}/metrics`)).text();
      expect(metrics).toMatch(/^mcp_authz_upstream_errors_total\{code="ERR_UPSTREAM_TIMEOUT"[^}]*\} 1$/m);
    },
  );

  it('is cut once it paused upstream.bodyTimeoutMs when piped (no length), freeing the connection', async () => {
    const { h, closed } = await stalling([
      ['content-type', 'application/json'],
      ['transfer-encoding', 'chunked'],
    ]);
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['guest']), {
      jsonrpc: '2.0',
      id: 4,
      method: 'ping',
    });
    expect(res.status).toBe(200);
    expect(
      await res.text().then(
        () => 'whole',
        () => 'cut',
      ),
    ).toBe('cut');
    expect(await closed).toBe('ping');
  });
});

describe('keep-alive connections the upstream closes', () => {
  const answer = (req: RawRequest, socket: Socket): void => {
    const msg = JSON.parse(req.body) as { id: number; method: string };
    const result = msg.method === 'tools/list' ? TOOLS : { content: [] };
    const body = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
    socket.write(json(body) + body);
  };

  it('are let go by the sidecar before 5 s idle, when an upstream without a Keep-Alive hint closes them (uvicorn)', async () => {
    // The reply carries no `Keep-Alive: timeout=…` (uvicorn, hypercorn and Go send none), so the sidecar's own
    // keep-alive applies: were it longer than the upstream's, a request sent as the upstream closes its idle
    // connection would meet the close and fail, a tools/call included.
    let replied = 0;
    let idleFor!: (ms: number) => void;
    const closedBySidecar = new Promise<number>((resolve) => {
      idleFor = resolve;
    });
    const { h } = await setup((req, socket) => {
      socket.once('end', () => idleFor(Date.now() - replied));
      answer(req, socket);
      replied = Date.now();
    });
    const res = await postJsonRpc(h.mcpUrl, await h.bearer(['guest']), {
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
    });
    expect(res.status).toBe(200);
    await res.text();
    expect(
      await settlesWithin(6_000, closedBySidecar, 'the sidecar closing its idle connection'),
    ).toBeLessThan(5_000);
  });

  it('answer a tools/call that met the close 502 once, never sending it twice', async () => {
    // The close crossing a reused connection's next request: the upstream drops the connection on it.
    const { h, up } = await setup((req, socket) => {
      if (req.nth === 2 && req.body.includes('"id":2')) socket.destroy();
      else answer(req, socket);
    });
    const auth = await h.bearer(['admin']);
    const call = (id: number) =>
      postJsonRpc(h.mcpUrl, auth, {
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: {} },
      });
    expect((await postJsonRpc(h.mcpUrl, auth, { jsonrpc: '2.0', id: 1, method: 'tools/list' })).status).toBe(
      200,
    );
    const met = await call(2);
    expect(met.status).toBe(502);
    expect(await met.json()).toMatchObject({ id: 2, error: { data: { code: 'ERR_UPSTREAM_UNAVAILABLE' } } });
    expect(up.requests.filter((r) => r.body.includes('"id":2'))).toHaveLength(1);
    // The client's own retry goes out on a fresh connection.
    expect((await call(3)).status).toBe(200);
    expect(up.requests.map((r) => [JSON.parse(r.body).id, r.nth])).toEqual([
      [1, 1],
      [2, 2],
      [3, 1],
    ]);
  });
});

describe('a reply that is not readable HTTP', () => {
  const body = listReply(1);
  it.each([
    [
      'two Content-Length headers',
      `content-length: ${body.length}\r\ncontent-length: ${body.length}\r\n`,
      body,
    ],
    [
      'Transfer-Encoding and Content-Length',
      `content-length: 5\r\ntransfer-encoding: chunked\r\n`,
      `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
    ],
    [
      '2,000 headers',
      `${Array.from({ length: 2_000 }, (_, i) => `x-h${i}: ${'v'.repeat(20)}\r\n`).join('')}content-length: ${body.length}\r\n`,
      body,
    ],
  ])('is answered 502 ERR_UPSTREAM_REPLY, not "unavailable" (%s)', async (_what, headers, payload) => {
    const { h } = await setup((_req, socket) => {
      socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n${headers}\r\n${payload}`);
    });
    const res = await listAsGuest(h);
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({
      id: 1,
      error: {
        code: -32005,
        message: 'Bad Gateway: the upstream reply is malformed',
        data: { code: 'ERR_UPSTREAM_REPLY' },
      },
    });
    expect(text).not.toContain('delete_customer');
  });
});

describe('a JSON list reply of gigabytes', () => {
  it('is answered 502 once over 16 MiB, and the upstream cut off', async () => {
    const upstream = flood();
    const { h } = await setup((_req, socket) => {
      const start = '{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"delete_customer","description":"';
      socket.write(
        rawReply('200 OK', [
          ['content-type', 'application/json'],
          ['content-length', String(2 ** 31)],
        ]) + start,
      );
      upstream.pour(socket, 'x'.repeat(0x10000), 0x10000);
    });
    const res = await listAsGuest(h);
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ id: 1, error: { data: { code: 'ERR_UPSTREAM_REPLY' } } });
    expect(text).not.toContain('delete_customer');
    expect(await upstream.ended).toBe('cut by the sidecar');
  });
});

describe('an upstream restarting while event streams are open', () => {
  it('ends them (GET /mcp and legacy /sse), counts them down and forgets the legacy session', async () => {
    const { h, up } = await setup(
      (req, socket) => {
        if (req.method !== 'GET')
          return void socket.write(rawReply('202 Accepted', [['content-length', '0']]));
        socket.write(
          rawReply('200 OK', [
            ['content-type', 'text/event-stream'],
            ['transfer-encoding', 'chunked'],
          ]),
        );
        const event = req.path.startsWith('/sse')
          ? `event: endpoint\ndata: /messages?sessionId=s-${up.requests.length}\n\n`
          : ': open\n\n';
        socket.write(`${Buffer.byteLength(event).toString(16)}\r\n${event}\r\n`);
      },
      { server: { maxStreamsPerCaller: 2 } },
    );
    const auth = await h.bearer(['user']);
    const open = async (url: string) => {
      const res = await fetch(url, { headers: { ...auth, accept: 'text/event-stream' } });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let text = '';
      const read = async (): Promise<string> => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return `${text}[end]`;
          text += Buffer.from(value).toString();
          if (text.includes('\n\n')) return text;
        }
      };
      const first = await read();
      const rest = read().catch(() => '[cut]');
      return { status: res.status, first, rest };
    };
    const legacy = await open(h.sseUrl);
    const streamable = await open(h.mcpUrl);
    expect([legacy.status, streamable.status]).toEqual([200, 200]);
    expect(legacy.first).toMatch(/^event: endpoint\ndata: \/messages\?sessionId=s-1\n\n$/);
    const refused = await fetch(h.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } });
    expect(refused.status).toBe(429);
    await refused.text();

    up.dropAll();
    // Both clients see their stream end (cut: the upstream did not end it), and nothing is left counted.
    expect(await legacy.rest).toBe('[cut]');
    expect(await streamable.rest).toBe('[cut]');
    const again = [await open(h.sseUrl), await open(h.mcpUrl)];
    expect(again.map((s) => s.status)).toEqual([200, 200]);
    // The legacy session of the dropped stream is gone: its messages endpoint does not know it any more.
    const post = await fetch(`${h.sidecar.publicUrl}/messages?sessionId=s-1`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(post.status).toBe(404);
    up.dropAll();
    await Promise.all(again.map((s) => s.rest));
  });
});

describe('an upstream reply with its own Vary and Access-Control-Expose-Headers', () => {
  it('keeps the upstream’s entries beside the sidecar’s on a reply to an allowed origin', async () => {
    const app = 'https://app.example.com';
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} });
    const { h } = await setup(
      (_req, socket) =>
        socket.write(
          rawReply('200 OK', [
            ['content-type', 'application/json'],
            ['content-length', String(Buffer.byteLength(body))],
            ['vary', 'Accept-Encoding, origin'],
            ['access-control-expose-headers', 'X-Upstream-Trace'],
          ]) + body,
        ),
      { server: { allowedOrigins: [app] } },
    );
    const res = await postJsonRpc(
      h.mcpUrl,
      { ...(await h.bearer(['admin'])), origin: app },
      { jsonrpc: '2.0', id: 1, method: 'ping' },
    );
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jsonrpc: '2.0', id: 1, result: {} });
    expect(res.headers.get('vary')).toBe('Accept-Encoding, origin');
    const exposed = res.headers.get('access-control-expose-headers')?.split(', ') ?? [];
    expect(exposed).toEqual(
      expect.arrayContaining(['X-Upstream-Trace', 'mcp-session-id', 'www-authenticate']),
    );
    expect(res.headers.get('access-control-allow-origin')).toBe(app);
  });
});

describe('an upstream issuing one session id to two callers', () => {
  it('keeps the session with its first owner: the second caller gets 502, not its id, and may not use it', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} });
    const { h } = await setup((_req, socket) =>
      socket.write(
        rawReply('200 OK', [
          ['content-type', 'application/json'],
          ['content-length', String(Buffer.byteLength(body))],
          ['mcp-session-id', 'the-same-session'],
        ]) + body,
      ),
    );
    const ping = { jsonrpc: '2.0', id: 1, method: 'ping' };
    const alice = await h.bearer(['admin'], { sub: 'alice' });
    const bob = await h.bearer(['admin'], { sub: 'bob' });
    expect((await postJsonRpc(h.mcpUrl, alice, ping)).status).toBe(200);
    // Bob is not handed alice's session id: the upstream's reply is refused as broken.
    const second = await postJsonRpc(h.mcpUrl, bob, ping);
    expect(second.status).toBe(502);
    expect(second.headers.get('mcp-session-id')).toBeNull();
    expect(await second.json()).toMatchObject({
      error: { message: 'Bad Gateway: the upstream issued a session id already bound to another caller' },
    });
    const inSession = { 'mcp-session-id': 'the-same-session' };
    expect((await postJsonRpc(h.mcpUrl, { ...bob, ...inSession }, ping)).status).toBe(404);
    expect((await postJsonRpc(h.mcpUrl, { ...alice, ...inSession }, ping)).status).toBe(200);
    expect(h.logs.join('\n')).toContain('already bound to another caller');
  });
});
