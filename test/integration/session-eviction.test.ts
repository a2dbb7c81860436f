/**
 * Sessions the sidecar's session table evicts are ended at the upstream, end to end: SDK clients → the
 * sidecar with small session caps → the example MCP server (SDK, stateful). With `server.unknownSessions:
 * reject` (the default) the upstream's own session-close hook (the SDK's `onsessionclosed`) sees each
 * evicted session DELETEd, by the per-caller cap or the global one, with the session's negotiated protocol
 * version and no caller's identity, while the newest sessions keep working; with `forward` nothing is
 * DELETEd and the evicted session still works through the upstream. At shutdown the DELETEs still waiting
 * are dropped and counted, and one the upstream never answers does not hold the sidecar up.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { type ExampleServer, type Harness, type HarnessOptions, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

/** Failure guard only: the DELETEs reach a local upstream in milliseconds. */
const GUARD_MS = 5_000;
/** An evicted session's GET stream ends with it: the client does not try it again. */
const noReconnect = {
  initialReconnectionDelay: 10,
  maxReconnectionDelay: 10,
  reconnectionDelayGrowFactor: 1,
  maxRetries: 0,
};

let upstream: ExampleServer;
let h: Harness | undefined;
const clients: Client[] = [];

beforeAll(async () => {
  upstream = await startExampleServer();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  await h?.stop();
  h = undefined;
});

afterAll(async () => {
  await upstream?.close();
});

async function harness(opts: HarnessOptions): Promise<Harness> {
  h = await startHarness({ upstream, ...opts });
  return h;
}

/** A new session through the sidecar: its client, id and negotiated protocol version. */
async function open(auth: Record<string, string>) {
  const client = await connectStreamable((h as Harness).mcpUrl, auth, { reconnection: noReconnect });
  clients.push(client);
  const transport = client.transport as StreamableHTTPClientTransport;
  const id = transport.sessionId;
  const version = transport.protocolVersion;
  if (!id || !version) throw new Error('the upstream issued no session');
  // The client opens its GET stream after connecting; each request in a session marks it used (LRU order).
  await until(GUARD_MS, async () =>
    upstream.httpRequests().some((r) => r.method === 'GET' && r.headers['mcp-session-id'] === id),
  );
  return { client, id, version };
}

/** The DELETEs the upstream received for these sessions. */
function deletesOf(ids: readonly string[]) {
  return upstream
    .httpRequests()
    .filter((r) => r.method === 'DELETE' && ids.includes(r.headers['mcp-session-id'] ?? ''));
}

async function evictionCounts(): Promise<Record<string, number>> {
  const text = await (await fetch(`${(h as Harness).sidecar.adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^mcp_authz_sessions_evicted_total\{result="(\w+)"\} (\d+)$/gm)) {
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

describe('sessions evicted from the session table', () => {
  it("are DELETEd at the upstream when a caller's sessions exceed server.maxSessionsPerCaller; the newest keep working", async () => {
    const sidecar = await harness({ config: { server: { maxSessionsPerCaller: 2 } } });
    const alice = await sidecar.bearer(['analyst'], { sub: 'alice' });
    const sessions = [];
    for (let i = 0; i < 4; i++) sessions.push(await open(alice));
    const ids = sessions.map((s) => s.id);
    const [oldest, second] = ids as [string, string];

    await settlesWithin(
      GUARD_MS,
      Promise.all([upstream.sessionClosed(oldest), upstream.sessionClosed(second)]),
      'the evicted sessions ended upstream',
    );
    expect(upstream.closedSessions().filter((id) => ids.includes(id))).toEqual([oldest, second]);
    expect(upstream.openSessions().filter((id) => ids.includes(id))).toEqual(ids.slice(2));

    // The spec's session end: DELETE on the MCP endpoint with the session and its negotiated version; no
    // credentials and no identity headers (the sidecar asserts nobody's identity for it).
    const deletes = deletesOf(ids);
    expect(deletes.map((d) => [d.path, d.headers['mcp-session-id']])).toEqual([
      ['/mcp', oldest],
      ['/mcp', second],
    ]);
    for (const d of deletes) {
      expect(d.headers['mcp-protocol-version']).toBe(sessions[0]?.version);
      expect(Object.keys(d.headers).sort()).toEqual(['mcp-protocol-version', 'mcp-session-id']);
    }

    for (const s of sessions.slice(2)) {
      expect((await s.client.listTools()).tools.map((t) => t.name)).toContain('echo');
    }
    // The evicted session is refused by the sidecar (the client starts over), as it is gone upstream.
    const refused = await postJsonRpc(
      sidecar.mcpUrl,
      { ...alice, 'mcp-session-id': oldest, 'mcp-protocol-version': sessions[0]?.version ?? '' },
      { jsonrpc: '2.0', id: 9, method: 'ping' },
    );
    expect(refused.status).toBe(404);
    await refused.text();
    expect(await evictionCounts()).toMatchObject({ ended: 2, failed: 0, dropped: 0, refused: 0, kept: 0 });
  });

  it('are DELETEd when the table as a whole is full: the least recently used session, whoever owns it', async () => {
    const sidecar = await harness({ sessionCaps: { max: 3 } });
    const alice = await sidecar.bearer(['analyst'], { sub: 'alice' });
    const bob = await sidecar.bearer(['analyst'], { sub: 'bob' });
    const a1 = await open(alice);
    const a2 = await open(alice);
    const b1 = await open(bob);
    await a1.client.ping(); // a1 in use: a2 is now the least recently used
    const b2 = await open(bob);
    await settlesWithin(GUARD_MS, upstream.sessionClosed(a2.id), 'the evicted session ended upstream');
    const ids = [a1.id, a2.id, b1.id, b2.id];
    expect(upstream.closedSessions().filter((id) => ids.includes(id))).toEqual([a2.id]);
    expect(deletesOf(ids).map((d) => d.headers['mcp-session-id'])).toEqual([a2.id]);
    await a1.client.ping();
    await b2.client.ping();
  });

  it('are left at the upstream, still usable, with unknownSessions: forward', async () => {
    const sidecar = await harness({
      sessionCaps: { perCaller: 1 },
      config: { server: { unknownSessions: 'forward' } },
    });
    const alice = await sidecar.bearer(['analyst'], { sub: 'alice' });
    const first = await open(alice);
    const second = await open(alice);
    expect(await evictionCounts()).toMatchObject({ kept: 1, ended: 0, failed: 0, dropped: 0 });
    // Evicted from the table, forwarded as an unknown session: the upstream still has it.
    expect((await first.client.listTools()).tools.map((t) => t.name)).toContain('echo');
    await second.client.ping();
    // Stopping the sidecar settles any DELETE it would have sent (the pool waits for those in flight).
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await sidecar.stop();
    h = undefined;
    const ids = [first.id, second.id];
    expect(deletesOf(ids)).toEqual([]);
    expect(upstream.closedSessions().filter((id) => ids.includes(id))).toEqual([]);
    expect(upstream.openSessions().filter((id) => ids.includes(id))).toEqual(ids);
  });

  it('are dropped at shutdown while waiting, and one in flight that is never answered does not hold it up', async () => {
    // An upstream that issues a session per initialize and never answers a DELETE.
    const held: ServerResponse[] = [];
    const deletes: string[] = [];
    const silent = createServer((req, res) => {
      if (req.method === 'DELETE') {
        deletes.push(String(req.headers['mcp-session-id']));
        held.push(res);
        silent.emit('delete');
        return;
      }
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': randomUUID() });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    try {
      // 4 pooled connections: one DELETE in flight at a time (a quarter of the pool).
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/mcp`;
      const sidecar = await harness({
        sessionCaps: { perCaller: 1 },
        config: { upstream: { url, connections: 4 } },
      });
      const alice = await sidecar.bearer(['analyst'], { sub: 'alice' });
      const firstDelete = once(silent, 'delete');
      for (let id = 1; id <= 3; id++) {
        const res = await postJsonRpc(sidecar.mcpUrl, alice, {
          jsonrpc: '2.0',
          id,
          method: 'initialize',
          params: {
            protocolVersion: '2025-06-18',
            capabilities: {},
            clientInfo: { name: 't', version: '0' },
          },
        });
        expect(res.headers.get('mcp-session-id')).toBeTruthy();
        await res.text();
      }
      // Two sessions evicted: one DELETE sent and held, the other waiting behind it.
      await settlesWithin(GUARD_MS, firstDelete, 'the first DELETE');
      expect(await evictionCounts()).toMatchObject({ dropped: 0, failed: 0, ended: 0 });
      // The pool gets a second to finish what is in flight, then is destroyed: within the guard.
      await settlesWithin(GUARD_MS, sidecar.stop(), 'the sidecar stopping');
      h = undefined;
      expect(deletes).toHaveLength(1);
      const lines = sidecar.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.filter((l) => l.dropped === 1)).toHaveLength(1);
      expect(
        lines.filter((l) => l.msg === 'evicted session not ended upstream').map((l) => l.result),
      ).toEqual(['failed']);
    } finally {
      for (const res of held) res.destroy();
      silent.closeAllConnections();
      silent.close();
    }
  });
});
