/**
 * The upstream client against a real local HTTP server: GET event streams do not take connections from
 * the capped pool (a POST is answered while more streams are open than it has connections), POSTs stay
 * capped, and close() / destroy() end the stream connections too.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { finished } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { notSent, Upstream, type UpstreamResponse } from '../../../src/proxy/upstream.js';
import { replyBytes } from '../../../src/proxy/upstream-reply.js';
import { settlesWithin } from '../../helpers/wait.js';

/** The production default of `upstream.connections`. */
const CONNECTIONS = 64;
/** Failure guard only: every step below finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

interface StreamServer {
  readonly url: string;
  /** GET responses the server holds open. */
  readonly streams: Set<ServerResponse>;
  /** Sockets from the client that are still open. */
  readonly sockets: Set<Socket>;
  /** Sockets that carried a POST. */
  readonly postSockets: Set<Socket>;
  /** Resolves once `n` GET streams are open at the same time. */
  streamsOpen(n: number): Promise<void>;
  /** Resolves once every client socket has closed. */
  allSocketsClosed(): Promise<void>;
  close(): Promise<void>;
}

/**
 * An upstream that holds every GET open as an event stream and answers every POST at once; with `holdPosts`
 * it keeps POSTs until `release()` is called and calls `onPost` with the number of POSTs held.
 */
async function startStreamServer(
  opts: { holdPosts?: { onPost: (held: number) => void; released: Promise<void> } } = {},
): Promise<StreamServer> {
  const streams = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  const postSockets = new Set<Socket>();
  const changed = new Set<() => void>();
  const notify = () => {
    for (const f of [...changed]) f();
  };
  const waitFor = (cond: () => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!cond()) return;
        changed.delete(check);
        resolve();
      };
      changed.add(check);
      check();
    });
  let held = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': open\n\n');
      streams.add(res);
      res.on('close', () => {
        streams.delete(res);
        notify();
      });
      notify();
      return;
    }
    postSockets.add(req.socket);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = () => {
        const { id } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: number };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: {} }));
      };
      if (!opts.holdPosts) return answer();
      opts.holdPosts.released.then(answer);
      opts.holdPosts.onPost(++held);
    });
  });
  // Idle sockets stay until the client closes them, so a socket closing is the client's doing.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => {
      sockets.delete(s);
      notify();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    streams,
    sockets,
    postSockets,
    streamsOpen: (n) => waitFor(() => streams.size >= n),
    allSocketsClosed: () => waitFor(() => sockets.size === 0),
    close() {
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/**
 * An upstream option holding POSTs until `release()`: `held` settles once the `heldAt`-th POST arrived,
 * `posts()` tells how many did.
 */
function holdingPosts(heldAt: number) {
  let release = (): void => undefined;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let markHeld = (): void => undefined;
  const held = new Promise<void>((r) => {
    markHeld = r;
  });
  let count = 0;
  const holdPosts = {
    released,
    onPost: (n: number) => {
      count = n;
      if (n === heldAt) markHeld();
    },
  };
  return { release, held, holdPosts, posts: () => count };
}
async function setup(
  opts: {
    connections?: number;
    maxPendingRequests?: number;
    server?: Parameters<typeof startStreamServer>[0];
  } = {},
): Promise<{ server: StreamServer; upstream: Upstream }> {
  const server = await startStreamServer(opts.server);
  cleanups.push(() => server.close());
  const upstream = new Upstream({
    url: server.url,
    connectTimeoutMs: 2_000,
    headersTimeoutMs: 2_000,
    connections: opts.connections ?? CONNECTIONS,
    ...(opts.maxPendingRequests !== undefined ? { maxPendingRequests: opts.maxPendingRequests } : {}),
  });
  cleanups.push(() => upstream.destroy());
  return { server, upstream };
}

function openStream(upstream: Upstream): Promise<UpstreamResponse> {
  return upstream.request({ method: 'GET', path: '/mcp', headers: { accept: 'text/event-stream' } });
}

function post(upstream: Upstream, id: number, signal?: AbortSignal): Promise<UpstreamResponse> {
  return upstream.request({
    method: 'POST',
    path: '/mcp',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: Buffer.from(JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize' })),
    ...(signal ? { signal } : {}),
  });
}

function openStreams(upstream: Upstream, n: number): Promise<UpstreamResponse[]> {
  return Promise.all(Array.from({ length: n }, () => openStream(upstream)));
}

async function json(r: UpstreamResponse): Promise<unknown> {
  return JSON.parse((await replyBytes(r, 1 << 20)).toString('utf8'));
}

describe('Upstream', () => {
  it('answers a POST while as many event streams are open as the pool has connections, and more', async () => {
    const { server, upstream } = await setup();
    const streams = await settlesWithin(GUARD_MS, openStreams(upstream, CONNECTIONS), 'opening the streams');
    expect(streams.every((s) => s.status === 200)).toBe(true);
    for (const s of streams) s.body.resume();
    await settlesWithin(GUARD_MS, server.streamsOpen(CONNECTIONS), 'the upstream holding the streams');

    const res = await settlesWithin(GUARD_MS, post(upstream, 7), 'the POST answer');
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ jsonrpc: '2.0', id: 7, result: {} });
    // The streams were open the whole time.
    expect(server.streams.size).toBe(CONNECTIONS);
    expect(streams.some((s) => s.body.readableEnded)).toBe(false);

    // Streams beyond the pool size open as well.
    const more = await settlesWithin(GUARD_MS, openStreams(upstream, 6), 'opening more streams');
    for (const s of more) s.body.resume();
    await settlesWithin(GUARD_MS, server.streamsOpen(CONNECTIONS + 6), 'the upstream holding more streams');
  });

  it('keeps POSTs to the configured number of connections', async () => {
    const { release, held, holdPosts } = holdingPosts(2);
    const { server, upstream } = await setup({
      connections: 2,
      server: { holdPosts },
    });
    const answers = [post(upstream, 1), post(upstream, 2), post(upstream, 3)];
    await settlesWithin(GUARD_MS, held, 'two POSTs reaching the upstream');
    release();
    const replies = await settlesWithin(GUARD_MS, Promise.all(answers), 'the POST answers');
    expect(await Promise.all(replies.map((r) => json(r)))).toEqual(
      [1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, result: {} })),
    );
    // The third POST waited for one of the two connections.
    expect(server.postSockets.size).toBe(2);
  });

  it('refuses a POST at once with ERR_UPSTREAM_BUSY while maxPendingRequests wait for a busy pool', async () => {
    const { release, held, holdPosts } = holdingPosts(1);
    const { upstream } = await setup({
      connections: 1,
      maxPendingRequests: 1,
      server: { holdPosts },
    });
    const running = post(upstream, 1);
    await settlesWithin(GUARD_MS, held, 'the first POST reaching the upstream');
    const waiting = post(upstream, 2);
    // One runs, one waits: the third would wait behind them with no timeout, so it is refused now.
    await expect(post(upstream, 3)).rejects.toMatchObject({
      code: 'ERR_UPSTREAM_BUSY',
      status: 503,
      headers: { 'retry-after': '1' },
    });
    // Event streams have their own pool and are not refused.
    const stream = await settlesWithin(GUARD_MS, openStream(upstream), 'a stream while POSTs wait');
    stream.body.resume();
    release();
    const replies = await settlesWithin(GUARD_MS, Promise.all([running, waiting]), 'the POST answers');
    expect(await Promise.all(replies.map((r) => json(r)))).toEqual(
      [1, 2].map((id) => ({ jsonrpc: '2.0', id, result: {} })),
    );
    // Once the queue drained, POSTs pass again.
    const after = await settlesWithin(GUARD_MS, post(upstream, 4), 'a POST after the burst');
    expect(await json(after)).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
  });

  it('refuses a POST whose signal fires while it waits for a connection at once, as not sent, and never sends it', async () => {
    const { release, held, holdPosts, posts } = holdingPosts(1);
    const { upstream } = await setup({
      connections: 1,
      server: {
        holdPosts,
      },
    });
    const sentFirst = new AbortController();
    const running = post(upstream, 1, sentFirst.signal);
    await settlesWithin(GUARD_MS, held, 'the first POST reaching the upstream');
    const client = new AbortController();
    const waiting = post(upstream, 2, client.signal).catch((e: unknown) => e);
    client.abort(new Error('client went away'));
    // Refused while the connection is still busy: its caller learns it now, not once a connection is free.
    const refused = await settlesWithin(GUARD_MS, waiting, 'the waiting POST refused');
    expect(notSent(refused)).toBe(true);
    // One aborted once sent is no such refusal: the upstream has it.
    sentFirst.abort(new Error('client went away'));
    expect(notSent(await running.catch((e: unknown) => e))).toBe(false);
    release();
    const after = await settlesWithin(GUARD_MS, post(upstream, 3), 'a POST once the connection is free');
    expect(await json(after)).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
    // The upstream got the first and the third: the second was dropped unsent when its turn came.
    expect(posts()).toBe(2);
  });

  it('counts no POST given up unsent against maxPendingRequests: live ones may wait in their place', async () => {
    const { release, held, holdPosts, posts } = holdingPosts(1);
    const { upstream } = await setup({
      connections: 1,
      maxPendingRequests: 2,
      server: {
        holdPosts,
      },
    });
    const running = post(upstream, 1);
    await settlesWithin(GUARD_MS, held, 'the first POST reaching the upstream');
    // Two wait for the one connection, and their clients leave: refused at once, as not sent.
    const clients = [new AbortController(), new AbortController()];
    const gone = clients.map((c, i) => post(upstream, 2 + i, c.signal).catch((e: unknown) => e));
    for (const c of clients) c.abort(new Error('client went away'));
    for (const e of await settlesWithin(GUARD_MS, Promise.all(gone), 'the waiting POSTs refused')) {
      expect(notSent(e)).toBe(true);
    }
    // undici keeps them queued until their turn, but they wait for nothing: two live POSTs may wait...
    const live = [post(upstream, 4), post(upstream, 5)];
    // ...and the limit still holds for the live ones.
    await expect(post(upstream, 6)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_BUSY' });
    release();
    const replies = await settlesWithin(GUARD_MS, Promise.all([running, ...live]), 'the POST answers');
    expect(await Promise.all(replies.map(json))).toEqual(
      [1, 4, 5].map((id) => ({ jsonrpc: '2.0', id, result: {} })),
    );
    // The upstream got the first and the two live ones: those given up were dropped unsent at their turn.
    expect(posts()).toBe(3);
  });

  it('leaves at most maxPendingRequests POSTs given up unsent out of the count, so the queue stays bounded', async () => {
    const { release, held, holdPosts, posts } = holdingPosts(1);
    const { upstream } = await setup({
      connections: 1,
      maxPendingRequests: 2,
      server: {
        holdPosts,
      },
    });
    const running = post(upstream, 1);
    await settlesWithin(GUARD_MS, held, 'the first POST reaching the upstream');
    // A caller that leaves each call once it waits: every one it gets queued stays in undici's queue.
    const codes: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const client = new AbortController();
      const call = post(upstream, 10 + i, client.signal).catch((e: unknown) => e);
      client.abort(new Error('client went away'));
      codes.push(
        ((await settlesWithin(GUARD_MS, call, 'the waiting POST refused')) as { code?: unknown }).code,
      );
    }
    // Two dead ones are left out, two more count as waiting: then the limit holds.
    expect(codes.filter((c) => c !== 'ERR_UPSTREAM_BUSY')).toHaveLength(4);
    expect(codes.slice(4)).toEqual(Array(6).fill('ERR_UPSTREAM_BUSY'));
    release();
    expect(await json(await settlesWithin(GUARD_MS, running, 'the first answer'))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: {},
    });
    expect(posts()).toBe(1);
  });

  it('drops POSTs given up unsent at their turn without closing the connection that was to carry them', async () => {
    const { release, held, holdPosts } = holdingPosts(1);
    const { server, upstream } = await setup({
      connections: 1,
      maxPendingRequests: 8,
      server: { holdPosts },
    });
    const running = post(upstream, 1);
    await settlesWithin(GUARD_MS, held, 'the first POST reaching the upstream');
    for (let i = 0; i < 3; i++) {
      const client = new AbortController();
      const call = post(upstream, 10 + i, client.signal).catch((e: unknown) => e);
      client.abort(new Error('client went away'));
      expect(notSent(await settlesWithin(GUARD_MS, call, 'the waiting POST refused'))).toBe(true);
    }
    const live = post(upstream, 2);
    release();
    const replies = await settlesWithin(GUARD_MS, Promise.all([running, live]), 'the POST answers');
    expect(await Promise.all(replies.map(json))).toEqual(
      [1, 2].map((id) => ({ jsonrpc: '2.0', id, result: {} })),
    );
    // The live POST went on the keep-alive connection the first one used: none was cut for those given up.
    expect(server.postSockets.size).toBe(1);
  });

  it('with maxPendingRequests 0, passes a POST that finds a free connection and refuses only one that would wait', async () => {
    const { release, held, holdPosts } = holdingPosts(2);
    const { upstream } = await setup({
      connections: 2,
      maxPendingRequests: 0,
      server: { holdPosts },
    });
    // "0: none waits": an idle pool (and one with a connection left) takes the request at once.
    const running = [post(upstream, 1), post(upstream, 2)];
    await settlesWithin(GUARD_MS, held, 'both POSTs reaching the upstream');
    // Every connection is busy: this one would wait, so it is refused.
    await expect(post(upstream, 3)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_BUSY' });
    release();
    const replies = await settlesWithin(GUARD_MS, Promise.all(running), 'the POST answers');
    for (const r of replies) await replyBytes(r, 1 << 20);
    const after = await settlesWithin(GUARD_MS, post(upstream, 4), 'a POST once a connection is free');
    expect(await json(after)).toEqual({ jsonrpc: '2.0', id: 4, result: {} });
  });

  it('close() refuses new streams and closes the stream connections once the streams end', async () => {
    const { server, upstream } = await setup();
    const streams = await settlesWithin(GUARD_MS, openStreams(upstream, 3), 'opening the streams');
    for (const s of streams) s.body.resume();
    await settlesWithin(GUARD_MS, server.streamsOpen(3), 'the upstream holding the streams');
    await settlesWithin(
      GUARD_MS,
      post(upstream, 1).then((r) => json(r)),
      'the POST answer',
    );

    const closing = upstream.close();
    await expect(openStream(upstream)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    await expect(post(upstream, 2)).rejects.toMatchObject({ code: 'ERR_UPSTREAM_UNAVAILABLE' });
    for (const res of server.streams) res.end();
    await settlesWithin(GUARD_MS, closing, 'close()');
    await settlesWithin(GUARD_MS, server.allSocketsClosed(), 'the upstream seeing every socket close');
    // The streams ended cleanly (the server ended them), not cut.
    await settlesWithin(
      GUARD_MS,
      Promise.all(streams.map((s) => finished(s.body))),
      'the stream bodies ending',
    );
  });

  it('destroy() cuts open streams and their connections', async () => {
    const { server, upstream } = await setup();
    const streams = await settlesWithin(GUARD_MS, openStreams(upstream, 3), 'opening the streams');
    const ended = streams.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.body.on('error', () => undefined);
          s.body.once('close', resolve);
          s.body.resume();
        }),
    );
    await settlesWithin(GUARD_MS, server.streamsOpen(3), 'the upstream holding the streams');

    await settlesWithin(GUARD_MS, upstream.destroy(), 'destroy()');
    await settlesWithin(GUARD_MS, Promise.all(ended), 'the stream bodies closing');
    await settlesWithin(GUARD_MS, server.allSocketsClosed(), 'the upstream seeing every socket close');
    expect(server.streams.size).toBe(0);
  });
});
