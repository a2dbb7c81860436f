/**
 * The legacy transport's `endpoint` event from an upstream that sends more than one, or one without a
 * session id the sidecar can read, through a real sidecar: the client learns one endpoint, the sidecar's,
 * for the first session only; the upstream's own URL never reaches it, and a later session is no session.
 *
 * @module
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { readUntil } from '../helpers/listen-upstream.js';
import { startHarness } from '../helpers/sidecar.js';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

/** Paths and queries of the POSTs the upstream of {@link upstreamSending} got. */
const posted: string[] = [];

/** An SSE upstream whose stream sends `endpoints` one after another, then a marker event. */
async function upstreamSending(endpoints: string[]): Promise<string> {
  const streams: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.method !== 'GET') {
      posted.push(req.url ?? '');
      res.writeHead(202).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    for (const e of endpoints) res.write(`event: endpoint\ndata: ${e}\n\n`);
    res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/marker"}\n\n');
    streams.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(async () => {
    for (const s of streams) s.destroy();
    await new Promise((r) => server.close(r));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function streamUntilMarker(url: string, headers: Record<string, string>): Promise<string> {
  const res = await fetch(url, { headers: { ...headers, accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  const read = await readUntil(res, 'notifications/marker');
  read.close();
  return read.text;
}

describe('legacy endpoint events from the upstream', () => {
  it('passes on the first session’s endpoint only, never the upstream’s own URL', async () => {
    const url = await upstreamSending([
      '/messages?sessionId=up-1',
      'http://internal-upstream:3001/msg/abc',
      '/messages?sessionId=up-2',
    ]);
    const h = await startHarness({ upstream: { url } as unknown as ExampleServer });
    stops.push(() => h.stop());
    const auth = await h.bearer(['user']);
    const text = await streamUntilMarker(h.sseUrl, auth);
    expect([...text.matchAll(/event: endpoint\ndata: (\S+)/g)].map((m) => m[1])).toEqual([
      '/messages?sessionId=up-1',
    ]);
    expect(text).not.toContain('internal-upstream');
    // The second session was never opened for the caller: a post to it is a post to no session.
    const post = await fetch(`${h.sidecar.publicUrl}/messages?sessionId=up-2`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(post.status).toBe(404);
  });

  it.each([
    // The Kotlin SDK's `mcp {}` routing: messages go to the stream's own path.
    ['a bare query', '?sessionId=k-1', '/legacy/sse?sessionId=k-1'],
    ['a path relative to the stream', 'messages?sessionId=k-1', '/legacy/messages?sessionId=k-1'],
  ])(
    'takes %s in the endpoint as relative to the upstream stream, as its client would',
    async (_, endpoint, want) => {
      const url = await upstreamSending([endpoint]);
      const h = await startHarness({
        upstream: { url } as unknown as ExampleServer,
        config: { server: { legacySsePath: '/legacy/sse' } },
      });
      stops.push(() => h.stop());
      const auth = await h.bearer(['user']);
      const res = await fetch(`${h.sidecar.publicUrl}/legacy/sse`, {
        headers: { ...auth, accept: 'text/event-stream' },
      });
      const stream = await readUntil(res, 'notifications/marker');
      stops.push(async () => stream.close());
      expect(stream.text).toContain('data: /messages?sessionId=k-1');
      posted.length = 0;
      const post = await fetch(`${h.sidecar.publicUrl}/messages?sessionId=k-1`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(post.status).toBe(202);
      // Resolved against the upstream's MCP URL (`…/mcp`), the message went to its Streamable HTTP endpoint.
      expect(posted.filter((p) => p.includes('k-1'))).toEqual([want]);
    },
  );

  it('passes on no endpoint without a session id it can read', async () => {
    const url = await upstreamSending(['http://internal-upstream:3001/msg/abc']);
    const h = await startHarness({ upstream: { url } as unknown as ExampleServer });
    stops.push(() => h.stop());
    const text = await streamUntilMarker(h.sseUrl, await h.bearer(['user']));
    expect(text).not.toContain('event: endpoint');
    expect(h.logs.some((l) => l.includes('endpoint event without a session id'))).toBe(true);
  });

  it('keeps an open session with its stream when the upstream issues its id to a second caller, whose stream is cut', async () => {
    const url = await upstreamSending(['/messages?sessionId=fixed']);
    const h = await startHarness({ upstream: { url } as unknown as ExampleServer });
    stops.push(() => h.stop());
    const alice = await h.bearer(['user'], { sub: 'alice' });
    const bob = await h.bearer(['user'], { sub: 'bob' });
    const aliceRes = await fetch(h.sseUrl, { headers: { ...alice, accept: 'text/event-stream' } });
    const aliceStream = await readUntil(aliceRes, 'notifications/marker');
    expect(aliceStream.text).toContain('data: /messages?sessionId=fixed');
    const bobRes = await fetch(h.sseUrl, { headers: { ...bob, accept: 'text/event-stream' } });
    const bobText = await bobRes.text().catch(() => '(cut)');
    expect(bobText).not.toContain('event: endpoint');
    expect(h.logs.some((l) => l.includes('names a session another stream holds'))).toBe(true);
    const post = (auth: Record<string, string>) =>
      fetch(`${h.sidecar.publicUrl}/messages?sessionId=fixed`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
    expect((await post(alice)).status).toBe(202);
    expect([403, 404]).toContain((await post(bob)).status);
    aliceStream.close();
  });
});
