/**
 * The upstream's 404 for a Streamable HTTP session ends that session in the sidecar (its binding, its ids in
 * flight) only when the request it answered was the session owner's: a real sidecar in front of a `node:net`
 * upstream (test/helpers/raw-upstream.ts) that answers each request as the test says. A 404 to another
 * caller — an upstream binding sessions to users answers another's session id so, which `unknownSessions:
 * forward` relies on — and a 404 reaching the sidecar once the id went anew to another caller end nothing of
 * the owner's session.
 *
 * @module
 */
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { type RawRequest, rawReply, rawUpstream } from '../helpers/raw-upstream.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { until } from '../helpers/wait.js';

/** Failure guard only: everything here is local and answers in milliseconds. */
const GUARD_MS = 5_000;
const VERSION = '2025-06-18';

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
});

async function setup(answer: (req: RawRequest, socket: Socket) => void, config: Record<string, unknown>) {
  const up = await rawUpstream(answer);
  stops.push(() => up.close());
  const h: Harness = await startHarness({
    upstream: { url: up.url.replace(/\/mcp$/, '') } as unknown as ExampleServer,
    // The held requests below wait for the test, not for the upstream's 2 s of the harness.
    config: { upstream: { headersTimeoutMs: 30_000 }, ...config },
  });
  stops.push(() => h.stop());
  return { h, up };
}

/** A JSON reply answering `req` (status `status`), with `headers` added. */
function reply(req: RawRequest, status = '200 OK', headers: [string, string][] = []): string {
  const id = req.body ? (JSON.parse(req.body) as { id?: unknown }).id : undefined;
  const body =
    status === '404 Not Found'
      ? JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } })
      : JSON.stringify({ jsonrpc: '2.0', id: id ?? null, result: {} });
  return rawReply(
    status,
    [['content-type', 'application/json'], ['content-length', String(Buffer.byteLength(body))], ...headers],
    body,
  );
}

const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });

describe("the upstream's 404 for a session", () => {
  it('to another caller (unknownSessions: forward) leaves the owner its ids in flight', async () => {
    let held: (() => void) | undefined;
    const { h, up } = await setup(
      (req, socket) => {
        // An upstream binding its sessions to users: another's session id is one it does not have.
        if (req.headers['x-mcp-authz-subject'] !== 'bob') socket.write(reply(req, '404 Not Found'));
        else if (held === undefined) held = () => socket.write(reply(req));
        else socket.write(reply(req));
      },
      { server: { unknownSessions: 'forward' } },
    );
    // Bob's session began on another replica: unknown here, forwarded for the upstream to decide.
    const session = { 'mcp-session-id': 'bobs-session', 'mcp-protocol-version': VERSION };
    const bob = { ...(await h.bearer(['admin'], { sub: 'bob' })), ...session };
    const mallory = { ...(await h.bearer(['admin'], { sub: 'mallory' })), ...session };
    // Bob's request with id 5 is under way at the upstream.
    const pending = postJsonRpc(h.mcpUrl, bob, ping(5));
    pending.catch(() => undefined); // cut at teardown should an assertion fail first
    await until(GUARD_MS, async () => held !== undefined);
    const refused = await postJsonRpc(h.mcpUrl, mallory, ping(1));
    expect(refused.status).toBe(404);
    await refused.text();
    // Id 5 is still in flight in bob's session: a request reusing it is refused, not forwarded.
    const forwarded = up.requests.length;
    const reused = await postJsonRpc(h.mcpUrl, bob, ping(5));
    expect(reused.status).toBe(400);
    expect(((await reused.json()) as { error: { message: string } }).error.message).toMatch(
      /request id 5 is already in flight in this session/,
    );
    expect(up.requests.length).toBe(forwarded);
    held?.();
    expect((await pending).status).toBe(200);
  });

  it('reaching the sidecar once the id went anew to another caller leaves that caller its session', async () => {
    let held: (() => void) | undefined;
    const { h } = await setup((req, socket) => {
      // An upstream issuing one id again once its session ended (a generator starting over).
      if (req.headers['mcp-session-id'] === undefined)
        socket.write(reply(req, '200 OK', [['mcp-session-id', 'reissued']]));
      else if (req.method === 'POST' && req.body.includes('"id":2'))
        held = () => socket.write(reply(req, '404 Not Found'));
      else socket.write(reply(req));
    }, {});
    const bob = await h.bearer(['admin'], { sub: 'bob' });
    const alice = await h.bearer(['admin'], { sub: 'alice' });
    const session = { 'mcp-session-id': 'reissued', 'mcp-protocol-version': VERSION };
    const opened = await postJsonRpc(h.mcpUrl, bob, ping(1));
    expect(opened.headers.get('mcp-session-id')).toBe('reissued');
    await opened.text();
    // Bob's request in the session is under way when bob ends it and the upstream gives its id to alice.
    const pending = postJsonRpc(h.mcpUrl, { ...bob, ...session }, ping(2));
    pending.catch(() => undefined); // cut at teardown should an assertion fail first
    await until(GUARD_MS, async () => held !== undefined);
    const ended = await fetch(h.mcpUrl, { method: 'DELETE', headers: { ...bob, ...session } });
    expect(ended.status).toBe(200);
    await ended.text();
    const hers = await postJsonRpc(h.mcpUrl, alice, ping(1));
    expect(hers.headers.get('mcp-session-id')).toBe('reissued');
    await hers.text();
    // The upstream answers bob's request: no such session (by then it was bob's no more).
    held?.();
    const late = await pending;
    expect(late.status).toBe(404);
    await late.text();
    const again = await postJsonRpc(h.mcpUrl, { ...alice, ...session }, ping(3));
    expect(again.status).toBe(200);
    await again.text();
  });
});
