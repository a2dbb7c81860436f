/**
 * `forward` for a client that leaves after its call was decided and charged, before the call reached the
 * upstream — while the stages ran, or while the call waited for a pooled upstream connection: the call is
 * refused after its decision (499 `ERR_CLIENT_CLOSED`, the audit's `deny_reason` `request`) and its rate-limit
 * tokens go back, as nothing of it ran. One whose client leaves once the upstream has it keeps its tokens.
 * And a call the upstream never received for another reason — refused busy, its connection never opened —:
 * not forwarded (`ctx.forwarded` false), an upstream failure (502/503, no refusal), its tokens given back;
 * one reset once the upstream had bytes of it may have run, and keeps them. Real local servers on both sides; the stages before `forward` are stood in for by the context they leave.
 *
 * @module
 */
import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createContext, type MessageDecision, type RequestContext } from '../../../src/pipeline/context.js';
import { createHeaderPolicy } from '../../../src/proxy/headers.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { type ClientSignal, clientSignal } from '../../../src/server/client-signal.js';
import { forward } from '../../../src/server/forward.js';
import { CLIENT_GONE_REASON } from '../../../src/server/pipelined.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { deadPort } from '../../helpers/dead-port.js';
import { principal } from '../../helpers/principal.js';
import { settlesWithin } from '../../helpers/wait.js';

/** Failure guard only: every step below finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

/**
 * An upstream that holds every request until `release`, noting the `x-request-id` of each it got (`got`);
 * `arrival` resolves once one of that id has come.
 */
async function heldUpstream(maxPendingRequests?: number): Promise<{
  upstream: Upstream;
  got: () => readonly string[];
  arrival: (id: string) => Promise<void>;
  release: () => void;
}> {
  const got: string[] = [];
  const arrivals = perRequest<void, string>();
  const held: ServerResponse[] = [];
  const port = await listen((req, res) => {
    const id = String(req.headers['x-request-id']);
    got.push(id);
    arrivals.resolve(id, undefined);
    req.resume();
    held.push(res);
  });
  const upstream = upstreamAt(`http://127.0.0.1:${port}/mcp`, maxPendingRequests);
  const release = () => {
    for (const res of held.splice(0)) res.writeHead(200, { 'content-length': '2' }).end('{}');
  };
  return { upstream, got: () => got, arrival: (id) => arrivals.of(id), release };
}

/** An upstream client of one connection for `url`. */
function upstreamAt(url: string, maxPendingRequests?: number): Upstream {
  const upstream = new Upstream({
    url,
    connectTimeoutMs: GUARD_MS,
    headersTimeoutMs: GUARD_MS,
    connections: 1,
    ...(maxPendingRequests === undefined ? {} : { maxPendingRequests }),
  });
  cleanups.push(() => upstream.destroy());
  return upstream;
}

interface Forwarded {
  readonly ctx: RequestContext;
  readonly status: number;
  readonly refunds: number;
}

/**
 * A front server whose requests come as decided and charged (one allowed call, tokens taken): each is
 * forwarded with `forward`, once `before` (given the client's signal) resolves. `arrived` is called with each
 * request's number as it comes; `done` with what forwarding it did.
 */
async function front(
  upstream: Upstream,
  on: {
    before?: (signal: ClientSignal) => Promise<unknown>;
    arrived: (n: number) => void;
    done: (n: number, f: Forwarded) => void;
  },
): Promise<number> {
  let n = 0;
  return listen((req, res) => {
    const nth = ++n;
    const signal = clientSignal(res);
    const ctx = createContext(req, {
      requestId: `r${nth}`,
      transport: 'streamable-http',
      clientIp: '127.0.0.1',
      now: new Date(),
    });
    ctx.principal = principal();
    ctx.decisions.push({
      index: 0,
      decisionId: `d${nth}`,
      action: { method: 'tools/call', tool: 'echo' },
      decision: { allow: true, reasons: [], obligations: {} },
      rateLimit: { limit: 10, remaining: 9, retryAfterMs: 0, allowed: true },
    } as unknown as MessageDecision);
    let refunds = 0;
    ctx.refundRateLimit = () => {
      refunds++;
    };
    const deps = {
      upstream,
      headers: createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key' }),
      logger: silentLogger(),
    };
    on.arrived(nth);
    void (async () => {
      await on.before?.(signal);
      const status = await forward(ctx, res, deps, {
        method: 'POST',
        signal,
        path: '/mcp',
        body: Buffer.from('{}'),
      });
      signal.release();
      on.done(nth, { ctx, status, refunds });
    })();
  });
}

/** POSTs to the front server; `leave` hangs up. */
function client(port: number): { leave: () => void } {
  const req = httpRequest({
    port,
    method: 'POST',
    path: '/mcp',
    headers: { 'content-type': 'application/json' },
  });
  req.on('error', () => undefined);
  req.end('{}');
  return { leave: () => req.destroy() };
}

/** What a call refused because its client left before it reached the upstream says. */
function expectRefused(f: Forwarded): void {
  expect(f.status).toBe(499);
  expect(f.refunds).toBe(1);
  expect(f.ctx.forwarded).not.toBe(true);
  expect(f.ctx.refusedLate?.code).toBe('ERR_CLIENT_CLOSED');
  expect(f.ctx.decisions[0]?.lateRefusal).toEqual({ code: 'ERR_CLIENT_CLOSED', reason: CLIENT_GONE_REASON });
}

/** A promise and its resolver, one per request (by number or id). */
function perRequest<T, K = number>(): { resolve: (n: K, v: T) => void; of: (n: K) => Promise<T> } {
  const all = new Map<K, { p: Promise<T>; r: (v: T) => void }>();
  const get = (n: K) => {
    let e = all.get(n);
    if (!e) {
      let r!: (v: T) => void;
      const p = new Promise<T>((res) => {
        r = res;
      });
      e = { p, r };
      all.set(n, e);
    }
    return e;
  };
  return { resolve: (n, v) => get(n).r(v), of: (n) => get(n).p };
}

describe('forward, a client gone after its decision', () => {
  it('while the stages ran: refused after its decision (499), its tokens given back, nothing sent', async () => {
    const up = await heldUpstream();
    const arrived = perRequest<void>();
    const done = perRequest<Forwarded>();
    const port = await front(up.upstream, {
      // The stages still running when the client leaves: forwarding starts once its signal fired.
      before: (signal) => once(signal, 'abort'),
      arrived: (n) => arrived.resolve(n, undefined),
      done: (n, f) => done.resolve(n, f),
    });
    const c = client(port);
    await settlesWithin(GUARD_MS, arrived.of(1), 'the request arriving');
    c.leave();
    expectRefused(await settlesWithin(GUARD_MS, done.of(1), 'forward'));
    expect(up.got()).toEqual([]);
  });

  it('while its call waited for an upstream connection: refused at once, tokens given back, never sent', async () => {
    const up = await heldUpstream();
    const arrived = perRequest<void>();
    const done = perRequest<Forwarded>();
    const port = await front(up.upstream, {
      arrived: (n) => arrived.resolve(n, undefined),
      done: (n, f) => done.resolve(n, f),
    });
    // The first call holds the one upstream connection (the upstream has it).
    const first = client(port);
    await settlesWithin(GUARD_MS, up.arrival('r1'), 'the first request reaching the upstream');
    const second = client(port);
    await settlesWithin(GUARD_MS, arrived.of(2), 'the second request arriving');
    second.leave();
    // Before the connection is free: its client left, there is nothing to wait for.
    expectRefused(await settlesWithin(GUARD_MS, done.of(2), 'forward of the waiting call'));
    // One whose client leaves once the upstream has it was forwarded: its tokens are spent.
    first.leave();
    const forwarded = await settlesWithin(GUARD_MS, done.of(1), 'forward of the call sent');
    expect(forwarded).toMatchObject({ status: 499, refunds: 0 });
    expect(forwarded.ctx.forwarded).toBe(true);
    expect(forwarded.ctx.decisions[0]?.lateRefusal).toBeUndefined();
    up.release();
    // A third call, queued behind the second, reaches the upstream: the second's turn came and went unsent.
    client(port);
    await settlesWithin(GUARD_MS, up.arrival('r3'), 'the third request reaching the upstream');
    expect(up.got()).toEqual(['r1', 'r3']);
  });
});

/** Forwards one call through a front server to `upstream`; resolves with what forwarding it did. */
async function forwardOne(upstream: Upstream): Promise<Forwarded> {
  const done = perRequest<Forwarded>();
  const port = await front(upstream, { arrived: () => undefined, done: (n, f) => done.resolve(n, f) });
  client(port);
  return settlesWithin(GUARD_MS, done.of(1), 'forward');
}

/** What a call the upstream never received says: an allowed call failed upstream, its tokens given back. */
function expectNotSent(f: Forwarded, status: number, code: string): void {
  expect(f.status).toBe(status);
  expect(f.ctx.upstreamError?.code).toBe(code);
  expect(f.ctx.forwarded).toBe(false);
  expect(f.refunds).toBe(1);
  // No refusal after its decision: the policy allowed it, the upstream (or the way to it) failed.
  expect(f.ctx.refusedLate).toBeUndefined();
  expect(f.ctx.decisions[0]?.lateRefusal).toBeUndefined();
}

describe('forward, a call the upstream never received', () => {
  it('its connection could not be opened (the upstream is down): 502, not forwarded, its tokens given back', async () => {
    const upstream = upstreamAt(`http://127.0.0.1:${await deadPort()}/mcp`);
    expectNotSent(await forwardOne(upstream), 502, 'ERR_UPSTREAM_UNAVAILABLE');
  });

  it('every connection busy, none may wait (maxPendingRequests 0): 503, not forwarded, its tokens given back', async () => {
    const up = await heldUpstream(0);
    const arrived = perRequest<void>();
    const done = perRequest<Forwarded>();
    const port = await front(up.upstream, {
      arrived: (n) => arrived.resolve(n, undefined),
      done: (n, f) => done.resolve(n, f),
    });
    const first = client(port);
    await settlesWithin(GUARD_MS, up.arrival('r1'), 'the first request reaching the upstream');
    client(port);
    expectNotSent(
      await settlesWithin(GUARD_MS, done.of(2), 'forward of the refused call'),
      503,
      'ERR_UPSTREAM_BUSY',
    );
    first.leave();
    expect(up.got()).toEqual(['r1']);
  });

  it('reset once the upstream had bytes of it: 502, forwarded (it may have run), its tokens spent', async () => {
    const got = perRequest<void, 'bytes'>();
    const server = createNetServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        got.resolve('bytes', undefined);
        socket.resetAndDestroy();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.address() as AddressInfo;
    const f = await forwardOne(upstreamAt(`http://127.0.0.1:${port}/mcp`));
    await settlesWithin(GUARD_MS, got.of('bytes'), 'the upstream getting bytes');
    expect(f).toMatchObject({ status: 502, refunds: 0 });
    expect(f.ctx.upstreamError?.code).toBe('ERR_UPSTREAM_UNAVAILABLE');
    expect(f.ctx.forwarded).toBe(true);
  });
});
