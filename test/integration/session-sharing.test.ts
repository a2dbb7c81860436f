/**
 * Streamable HTTP session bindings kept in Redis (a real `redis-server`): a sidecar restarted beside a
 * running MCP server (the example server, which keeps its sessions) serves each open session to the caller
 * who created it, and to nobody else; with the in-memory store, whose bindings died with the process, the
 * session is refused. The SDK's client does not start a new session on that 404, so without the shared
 * binding its host would have to reconnect.
 *
 * @module
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DevIssuer, startDevIssuer } from '../../examples/dev-issuer/issuer.js';
import { startExampleServer } from '../../examples/mcp-server/server.js';
import { postJsonRpc } from '../helpers/http.js';
import { connectStreamable } from '../helpers/mcp-client.js';
import { redisSuite } from '../helpers/redis-suite.js';
import {
  type ExampleServer,
  type Harness,
  type HarnessOptions,
  RESOURCE,
  startHarness,
} from '../helpers/sidecar.js';

const suite = redisSuite();
let upstream: ExampleServer;
let issuer: DevIssuer;
const clients: Client[] = [];
const harnesses: Harness[] = [];
/** The session's GET stream ends with the first sidecar: the client does not try it again. */
const noReconnect = {
  initialReconnectionDelay: 10,
  maxReconnectionDelay: 10,
  reconnectionDelayGrowFactor: 1,
  maxRetries: 0,
};

beforeAll(async () => {
  upstream = await startExampleServer();
  issuer = await startDevIssuer({ audience: RESOURCE });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  for (const h of harnesses.splice(0)) await h.stop();
});

afterAll(async () => {
  await upstream?.close();
  await issuer?.close();
});

async function sidecar(opts: HarnessOptions): Promise<Harness> {
  const h = await startHarness({ upstream, issuer, ...opts });
  harnesses.push(h);
  return h;
}

/** A session an analyst opens through `h` with the SDK's client: its credentials and the session's headers. */
async function openSession(h: Harness) {
  const auth = await h.bearer(['analyst']);
  const client = await connectStreamable(h.mcpUrl, auth, { reconnection: noReconnect });
  clients.push(client);
  const transport = client.transport as StreamableHTTPClientTransport;
  const session = {
    'mcp-session-id': transport.sessionId ?? '',
    'mcp-protocol-version': transport.protocolVersion ?? '',
  };
  return { auth, session };
}

/**
 * Opens a session through `first` as `auth`, stops `first`, starts `next()` and asks it for `tools/list` in
 * that session, as the session's owner and as another caller: the two HTTP statuses, and the owner's body.
 */
async function afterRestart(first: Harness, next: () => Promise<Harness>) {
  const { auth, session } = await openSession(first);
  expect(session['mcp-session-id']).not.toBe('');
  await first.stop();
  harnesses.splice(harnesses.indexOf(first), 1);
  const second = await next();
  const list = (headers: Record<string, string>) =>
    postJsonRpc(second.mcpUrl, { ...headers, ...session }, { jsonrpc: '2.0', id: 2, method: 'tools/list' });
  const other = await list(await second.bearer(['analyst'], { sub: 'mallory' }));
  await other.arrayBuffer();
  const mine = await list(auth);
  return { other: other.status, mine: mine.status, body: await mine.text() };
}

describe('session bindings across a sidecar restart', () => {
  it('with Redis, serves the owner its open session and refuses everyone else', async () => {
    const opts = { redisUrl: suite.redis.url, config: { store: { keyPrefix: suite.prefix('sessions') } } };
    const r = await afterRestart(await sidecar(opts), () => sidecar(opts));
    expect(r.other).toBe(404);
    expect(r.mine).toBe(200);
    expect(r.body).toContain('"name":"read_customer"');
  });

  it('with the in-memory store, refuses the session: its binding died with the process', async () => {
    const r = await afterRestart(await sidecar({}), () => sidecar({}));
    expect(r.other).toBe(404);
    expect(r.mine).toBe(404);
  });
});

describe('a session lookup while Redis is down', () => {
  it('is refused for now (503 ERR_SESSION_UNAVAILABLE, Retry-After), not as an unknown session (404)', async () => {
    const opts = { redisUrl: suite.redis.url, config: { store: { keyPrefix: suite.prefix('outage') } } };
    const first = await sidecar(opts);
    const { auth, session } = await openSession(first);
    // Another replica, which never saw the session issued: only the store can say whose it is.
    const second = await sidecar(opts);
    await suite.redis.kill();
    try {
      const res = await postJsonRpc(
        second.mcpUrl,
        { ...auth, ...session },
        { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      );
      const text = await res.text();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(text).toContain('"code":"ERR_SESSION_UNAVAILABLE"');
      expect(text).not.toContain('unknown session');
    } finally {
      await suite.redis.restart();
    }
  });
});
