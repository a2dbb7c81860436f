/**
 * A legacy messages POST whose stream ended while its body was on its way, through a real sidecar, in front
 * of a legacy HTTP+SSE upstream whose id generator restarts (every stream gets session `s1`): the id then
 * names another caller's new stream. The POST must not be forwarded into that stream, nor its answer (or
 * denial) reach the other caller.
 *
 * @module
 */
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { postAfterContinue } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

let h: Harness;
let upstreamUrl = '';
let upstream: ReturnType<typeof createServer>;
let open: ServerResponse | undefined;
/** Resolves when the upstream's open stream closes. */
let openClosed: Promise<void> = Promise.resolve();
const posted: string[] = [];

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('event: endpoint\ndata: /messages?sessionId=s1\n\n');
      open = res;
      openClosed = new Promise((resolve) => res.on('close', () => resolve()));
      return;
    }
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      posted.push(body);
      res.writeHead(202).end('Accepted');
      const msg = JSON.parse(body) as { id: number; params?: { arguments?: { text?: string } } };
      const text = `answer: ${msg.params?.arguments?.text}`;
      open?.write(
        `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { text } })}\n\n`,
      );
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const port = (upstream.address() as AddressInfo).port;
  upstreamUrl = `http://127.0.0.1:${port}/mcp`;
  h = await startHarness({ config: { upstream: { url: upstreamUrl } } });
});

afterAll(async () => {
  await h?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
});

function openStream(auth: Record<string, string>, on: Harness = h) {
  let text = '';
  let req!: ReturnType<typeof get>;
  const waiting: { what: string; resolve: () => void }[] = [];
  const ready = new Promise<string>((resolve, reject) => {
    req = get(on.sseUrl, { headers: { accept: 'text/event-stream', ...auth } }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        const endpoint = /event: endpoint\ndata: (\S+)/.exec(text)?.[1];
        if (endpoint) resolve(endpoint);
        for (const w of waiting) if (text.includes(w.what)) w.resolve();
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
  });
  /** Resolves once the stream has carried `what`. */
  const carried = (what: string) =>
    text.includes(what) ? Promise.resolve() : new Promise<void>((resolve) => waiting.push({ what, resolve }));
  return { ready, carried, text: () => text, close: () => req.destroy() };
}

it("forwards a POST whose stream ended meanwhile into no other caller's stream of the same id", async () => {
  const alice = await h.bearer(['admin'], { sub: 'alice' });
  const bob = await h.bearer(['analyst'], { sub: 'bob' });
  const a = openStream(alice);
  const endpoint = await a.ready;
  let b: ReturnType<typeof openStream> | undefined;
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 41,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'alice-private' } },
  });
  const res = await postAfterContinue(`${h.sidecar.publicUrl}${endpoint}`, alice, body, async () => {
    // Alice's POST passed the session stage; now her stream ends, and the upstream gives `s1` to Bob.
    const closed = openClosed;
    a.close();
    await closed;
    b = openStream(bob);
    await b.ready;
  });
  expect(res.status).toBe(404);
  expect(res.text).toContain('unknown session');
  expect(posted.filter((p) => p.includes('alice-private'))).toEqual([]);
  // Bob's stream, still open, carries nothing of Alice's, before or after his own call's answer.
  const ping = JSON.stringify({
    jsonrpc: '2.0',
    id: 7,
    method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'bob' } },
  });
  const stream = b as ReturnType<typeof openStream>;
  const bobs = await postAfterContinue(`${h.sidecar.publicUrl}${endpoint}`, bob, ping, async () => undefined);
  expect(bobs.status).toBe(202);
  // Bob's own call, answered on his stream (here a denial: this upstream lists no tools, so echo is unknown).
  await stream.carried('"id":7');
  expect(stream.text()).not.toContain('alice-private');
  stream.close();
});

it('holds for anonymous callers too, who all share one owner key (authn.mode optional)', async () => {
  const anon = await startHarness({
    config: { upstream: { url: upstreamUrl }, authn: { mode: 'optional' } },
  });
  try {
    const a = openStream({}, anon);
    const endpoint = await a.ready;
    const answer = JSON.stringify({ jsonrpc: '2.0', id: 'srv-1', result: { secret: 'from-A' } });
    const res = await postAfterContinue(`${anon.sidecar.publicUrl}${endpoint}`, {}, answer, async () => {
      const closed = openClosed;
      a.close();
      await closed;
      await openStream({}, anon).ready; // another anonymous client, given `s1` again
    });
    expect(res.status).toBe(404);
    expect(posted.filter((p) => p.includes('from-A'))).toEqual([]);
  } finally {
    await anon.stop();
  }
});
