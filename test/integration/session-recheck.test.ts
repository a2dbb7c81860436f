/**
 * A Streamable HTTP POST is checked against its session's owner again once its body is in: the body may come
 * up to 30 s after the headers the session stage checked, and meanwhile the session may have ended (DELETEd)
 * and its id gone to another caller (an upstream that issues ids again), whose session the POST must not
 * reach. A real sidecar in front of a `node:net` upstream (test/helpers/raw-upstream.ts) that issues every
 * session the same id; the client sends its body only on `100 Continue`, after the test ended the session.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postAfterContinue, postJsonRpc } from '../helpers/http.js';
import { type RawRequest, type RawUpstream, rawReply, rawUpstream } from '../helpers/raw-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';

const VERSION = '2025-06-18';
/** The one id the upstream issues, to every `initialize`. */
const SESSION = 'the-same-session-id';

let up: RawUpstream;
let h: Harness;

/** A JSON reply to `req`; an `initialize` is issued {@link SESSION}. */
function reply(req: RawRequest): string {
  const msg = req.body ? (JSON.parse(req.body) as { id?: unknown; method?: string }) : {};
  const body = msg.id === undefined ? '' : JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} });
  const headers: [string, string][] = [['content-length', String(Buffer.byteLength(body))]];
  if (body) headers.push(['content-type', 'application/json']);
  if (msg.method === 'initialize') headers.push(['mcp-session-id', SESSION]);
  return rawReply(body ? '200 OK' : '202 Accepted', headers, body);
}

beforeAll(async () => {
  up = await rawUpstream((req, socket) => socket.write(reply(req)));
  h = await startHarness({ upstream: { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer });
});

afterAll(async () => {
  await h?.stop();
  await up?.close();
});

const initialize = {
  jsonrpc: '2.0',
  id: 0,
  method: 'initialize',
  params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

/** Opens the session as `auth`'s caller: the id the sidecar passed on. */
async function open(auth: Record<string, string>): Promise<string | null> {
  const res = await postJsonRpc(h.mcpUrl, auth, initialize);
  await res.text();
  expect(res.status).toBe(200);
  return res.headers.get('mcp-session-id');
}

async function end(auth: Record<string, string>): Promise<void> {
  const res = await fetch(h.mcpUrl, {
    method: 'DELETE',
    headers: { ...auth, 'mcp-session-id': SESSION, 'mcp-protocol-version': VERSION },
  });
  await res.arrayBuffer();
  expect(res.status).toBe(202);
}

/** The requests the upstream received in the session whose body holds `marker`. */
const received = (marker: string) => up.requests.filter((r) => r.body.includes(marker));

describe("a POST whose session's id went to another caller while its body came", () => {
  it('is refused 404 as an unknown session, and never reaches the other caller’s session', async () => {
    const alice = await h.bearer(['admin'], { sub: 'alice' });
    const bob = await h.bearer(['admin'], { sub: 'bob' });
    expect(await open(alice)).toBe(SESSION);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 'alice-late', method: 'ping' });
    const session = { 'mcp-session-id': SESSION, 'mcp-protocol-version': VERSION };
    const res = await postAfterContinue(h.mcpUrl, { ...alice, ...session }, body, async () => {
      // Alice's headers passed the session stage; before her body comes, her session ends and the upstream
      // issues its id to bob.
      await end(alice);
      expect(await open(bob)).toBe(SESSION);
    });
    try {
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ error: { data: { code: 'ERR_REQUEST_SESSION' } } });
      expect(received('alice-late')).toEqual([]);
      // Bob's session is his: his own call in it passes.
      const mine = await postJsonRpc(
        h.mcpUrl,
        { ...bob, ...session },
        { jsonrpc: '2.0', id: 'bob', method: 'ping' },
      );
      expect(mine.status).toBe(200);
      await mine.text();
      expect(received('"bob"')).toHaveLength(1);
    } finally {
      await end(bob); // the next test opens the id again
    }
  });

  it('is refused 404 when the session only ended meanwhile (DELETEd): nothing is forwarded for it', async () => {
    const carol = await h.bearer(['admin'], { sub: 'carol' });
    expect(await open(carol)).toBe(SESSION);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 'carol-late', method: 'ping' });
    const session = { 'mcp-session-id': SESSION, 'mcp-protocol-version': VERSION };
    const res = await postAfterContinue(h.mcpUrl, { ...carol, ...session }, body, () => end(carol));
    expect(res.status).toBe(404);
    expect(received('carol-late')).toEqual([]);
  });
});
