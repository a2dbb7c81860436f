/**
 * Long-lived event streams through the sidecar do not starve other requests: with as many Streamable HTTP
 * `GET /mcp` and legacy `GET /sse` streams open as `upstream.connections` allows, another caller's
 * `initialize` is still answered at once, while the streams stay open; one caller may hold at most
 * `server.maxStreamsPerCaller` of them.
 *
 * @module
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJsonRpc } from '../helpers/http.js';
import { type Harness, startHarness } from '../helpers/sidecar.js';
import { settlesWithin, until } from '../helpers/wait.js';

/** Failure guard only: every step below finishes well within it when streams do not hold the pool. */
const GUARD_MS = 5_000;
const PROTOCOL = '2025-06-18';
const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 't', version: '0' } },
} as const;

let h: Harness;
const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await Promise.all(readers.map((r) => r.cancel().catch(() => undefined)));
  await h?.stop();
});

interface OpenStream {
  /** True once the stream ended or failed. */
  ended(): boolean;
  /** Ends it from the client's side. */
  close(): Promise<void>;
}

/** Keeps reading `res`'s body in the background; `ended()` tells whether it is still open. */
function hold(res: Response): OpenStream {
  const reader = res.body!.getReader();
  readers.push(reader);
  let ended = false;
  const pump = (): Promise<void> => reader.read().then(({ done }) => (done ? undefined : pump()));
  pump().then(
    () => {
      ended = true;
    },
    () => {
      ended = true;
    },
  );
  return { ended: () => ended, close: () => reader.cancel().catch(() => undefined) };
}

/** A legacy HTTP+SSE stream: open once the sidecar has passed on the upstream's response headers. */
async function openLegacyStream(auth: Record<string, string>): Promise<OpenStream> {
  const res = await fetch(h.sseUrl, { headers: { ...auth, accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  return hold(res);
}

/** A Streamable HTTP session and its `GET /mcp` stream. */
async function openStreamableStream(auth: Record<string, string>): Promise<OpenStream> {
  const init = await postJsonRpc(h.mcpUrl, auth, INITIALIZE);
  expect(init.status).toBe(200);
  await init.text();
  const session = {
    'mcp-session-id': init.headers.get('mcp-session-id') ?? '',
    'mcp-protocol-version': PROTOCOL,
  };
  const initialized = await postJsonRpc(
    h.mcpUrl,
    { ...auth, ...session },
    { jsonrpc: '2.0', method: 'notifications/initialized' },
  );
  expect(initialized.status).toBe(202);
  await initialized.text();
  const res = await fetch(h.mcpUrl, { headers: { ...auth, ...session, accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  return hold(res);
}

describe('event streams and the upstream connection pool', () => {
  it("answers another caller's initialize while upstream.connections streams are open", async () => {
    const connections = h.config.upstream.connections;
    expect(connections).toBe(64); // the default, as deployed
    // Four callers (each may hold server.maxStreamsPerCaller, 32, open): 16 streams each.
    const streamers = await Promise.all(
      [0, 1, 2, 3].map((i) => h.bearer(['user'], { sub: `streamer-${i}` })),
    );
    const streamer = (i: number) => streamers[i % streamers.length] as Record<string, string>;
    // Streamable HTTP streams first (each needs its session's POSTs), then legacy ones up to the pool size.
    const streams = await settlesWithin(
      GUARD_MS,
      Promise.all(Array.from({ length: 8 }, (_, i) => openStreamableStream(streamer(i)))),
      'opening the Streamable HTTP streams',
    );
    streams.push(
      ...(await settlesWithin(
        GUARD_MS,
        Promise.all(
          Array.from({ length: connections - streams.length }, (_, i) => openLegacyStream(streamer(i))),
        ),
        'opening the legacy streams',
      )),
    );

    const admin = await h.bearer(['admin'], { sub: 'the-admin' });
    const res = await settlesWithin(
      GUARD_MS,
      postJsonRpc(h.mcpUrl, admin, INITIALIZE),
      "the admin's initialize",
    );
    expect(res.status).toBe(200);
    expect(await settlesWithin(GUARD_MS, res.text(), 'the initialize reply')).toContain('"protocolVersion"');
    expect(streams.filter((s) => s.ended())).toEqual([]);
    // More streams than the pool has connections open as well.
    const more = await settlesWithin(
      GUARD_MS,
      Promise.all([openLegacyStream(streamer(0)), openLegacyStream(streamer(1))]),
      'opening more streams',
    );
    expect([...streams, ...more].filter((s) => s.ended())).toEqual([]);
  });

  it('refuses a caller more streams than server.maxStreamsPerCaller (429) until one ends', async () => {
    const max = h.config.server.maxStreamsPerCaller;
    const caller = await h.bearer(['user'], { sub: 'greedy' });
    const open = await settlesWithin(
      GUARD_MS,
      Promise.all(Array.from({ length: max }, () => openLegacyStream(caller))),
      'opening the allowed streams',
    );
    const refused = await fetch(h.sseUrl, { headers: { ...caller, accept: 'text/event-stream' } });
    expect(refused.status).toBe(429);
    expect(await refused.json()).toMatchObject({ error: { data: { code: 'ERR_RATELIMIT_STREAMS' } } });
    // Another caller is not affected.
    await openLegacyStream(await h.bearer(['user'], { sub: 'modest' }));
    // Once one of the caller's streams ends, it may open another.
    await open[0]?.close();
    await until(GUARD_MS, async () => {
      const res = await fetch(h.sseUrl, { headers: { ...caller, accept: 'text/event-stream' } });
      if (res.status !== 200) {
        await res.text();
        return false;
      }
      hold(res);
      return true;
    });
  });
});
