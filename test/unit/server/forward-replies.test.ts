/**
 * `forward` and the upstream client's replies against real local servers, for the ways a reply can end
 * that the integration suite does not reach: a client leaving a streamed reply, a reply read whole that is
 * cut, and an event stream whose Content-Type is repeated. An `'error'` emitted on a stream with no listener
 * would be an uncaught exception (the process exits); the tests record such errors instead of crashing.
 *
 * @module
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionOwners } from '../../../src/mcp/session-owners.js';
import { SseRewriter } from '../../../src/mcp/sse-transform.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import { createHeaderPolicy } from '../../../src/proxy/headers.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { clientSignal } from '../../../src/server/client-signal.js';
import { forward } from '../../../src/server/forward.js';
import { silentLogger } from '../../../src/telemetry/logger.js';
import { principal } from '../../helpers/principal.js';
import { settlesWithin } from '../../helpers/wait.js';

/** Failure guard only: every step below finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** Errors emitted on a Readable that had no `'error'` listener (each an uncaught exception in production). */
const unheard: Error[] = [];
const emit = Readable.prototype.emit;
function recordUnheardErrors(): void {
  Readable.prototype.emit = function (this: Readable, event: string | symbol, ...args: unknown[]) {
    if (event === 'error' && this.listenerCount('error') === 0) {
      unheard.push(args[0] as Error);
      return false;
    }
    return emit.call(this, event, ...args);
  } as typeof emit;
  cleanups.push(async () => {
    Readable.prototype.emit = emit;
    unheard.length = 0;
  });
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<number> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

function upstreamAt(port: number): Upstream {
  const u = new Upstream({
    url: `http://127.0.0.1:${port}/mcp`,
    connectTimeoutMs: GUARD_MS,
    headersTimeoutMs: GUARD_MS,
    connections: 2,
  });
  cleanups.push(() => u.destroy());
  return u;
}

/**
 * A front server that forwards every request with `forward` (no stages: the request path's last step alone).
 * With `sessions`, each request is alice's and sessions are bound in that table; `forwarded` sees each call.
 */
async function front(
  upstream: Upstream,
  sseRewriter?: SseRewriter,
  as: { method: 'GET' | 'POST'; stream?: boolean } = { method: 'POST' },
  sessions?: { owners: SessionOwners; forwarded: (done: Promise<number>, res: ServerResponse) => void },
): Promise<number> {
  return listen((req, res) => {
    const signal = clientSignal(res);
    const ctx = {
      req,
      requestId: 'r1',
      clientIp: '127.0.0.1',
      responseHeaders: {},
      listRequests: new Map(),
      ...(sessions ? { principal: principal({ id: 'alice' }) } : {}),
    } as unknown as RequestContext;
    const deps = {
      upstream,
      headers: createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key' }),
      logger: silentLogger(),
      ...(sessions ? { sessions: sessions.owners } : {}),
    };
    const done = forward(ctx, res, deps, {
      method: as.method,
      signal,
      path: '/mcp',
      ...(as.method === 'POST' ? { body: Buffer.from('{}') } : {}),
      ...(as.stream ? { stream: true } : {}),
      ...(sseRewriter ? { sseRewriter } : {}),
    });
    sessions?.forwarded(done, res);
    void done.finally(() => signal.release());
  });
}

describe('forward, replies that end early', () => {
  it('a client leaving an event stream reply ends the upstream request without an unheard error', async () => {
    recordUnheardErrors();
    let upstreamCut = (): void => undefined;
    const cut = new Promise<void>((r) => {
      upstreamCut = r;
    });
    const up = await listen((_req, res) => {
      res.once('close', upstreamCut);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"a":1}\n\n');
    });
    const port = await front(upstreamAt(up));
    await new Promise<void>((resolve) => {
      const req = httpRequest({ port, method: 'POST', path: '/mcp' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end('{}');
    });
    await settlesWithin(GUARD_MS, cut, 'the upstream seeing its request cut');
    await new Promise((r) => setImmediate(r));
    expect(unheard.map((e) => e.message)).toEqual([]);
  });

  it('a reply read whole that is cut fails the stream made of it without an unheard error', async () => {
    recordUnheardErrors();
    const up = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"x":', () => res.socket?.destroy());
    });
    const reply = await upstreamAt(up).request({ method: 'DELETE', path: '/mcp', headers: {} });
    // A reader that only drains the body, and listens for nothing but its end.
    reply.body.resume();
    const closed = new Promise<void>((r) => reply.body.once('close', () => r()));
    await settlesWithin(GUARD_MS, closed, 'the body closing');
    await expect(reply.whole).rejects.toThrow();
    expect(unheard).toEqual([]);
  });

  it('rewrites an event stream whose Content-Type is repeated (never passes it on unread)', async () => {
    const body = 'data: {"secret":1}\n\n';
    const up = await listen((req, res) => {
      req.resume();
      res.setHeader('content-type', ['text/event-stream', 'text/event-stream']);
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    });
    const port = await front(upstreamAt(up), new SseRewriter(() => '{"pruned":true}'));
    const got = await new Promise<string>((resolve) => {
      const req = httpRequest({ port, method: 'POST', path: '/mcp' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve(text));
      });
      req.end('{}');
    });
    expect(got).not.toContain('secret');
    expect(got).toContain('"pruned":true');
  });

  it.each([
    ['a GET', { method: 'GET' }],
    ['a subscriptions/listen POST', { method: 'POST', stream: true }],
  ] as const)(
    'answers 502 for a short reply to %s that the upstream cuts short (the stream pool reads it whole too)',
    async (_what, as) => {
      const up = await listen((req, res) => {
        req.resume();
        res.writeHead(405, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"x":', () => res.socket?.destroy());
      });
      const port = await front(upstreamAt(up), undefined, as);
      const status = await new Promise<number | string>((resolve) => {
        const req = httpRequest({ port, method: as.method, path: '/mcp' }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(`${res.statusCode} then cut`));
          res.on('aborted', () => resolve(`${res.statusCode} then cut`));
        });
        req.on('error', (e) => resolve(e.message));
        req.end(as.method === 'POST' ? '{}' : undefined);
      });
      expect(status).toBe(502);
    },
  );
});

describe('forward, a new session whose binding is claimed in the shared store', () => {
  it('abandons the session when its client leaves while the claim is made: never bound, marked ended', async () => {
    let releaseClaim = (_ok: boolean): void => undefined;
    let claimMade = (): void => undefined;
    const claimed = new Promise<void>((r) => {
      claimMade = r;
    });
    const calls: string[] = [];
    const shared = {
      claim: (id: string) => {
        calls.push(`claim ${id}`);
        claimMade();
        return new Promise<boolean>((r) => {
          releaseClaim = r;
        });
      },
      refresh: () => undefined,
      get: async () => null,
      delete: (id: string) => calls.push(`end ${id}`),
    };
    const sessions = new SessionOwners({ shared });
    const up = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-1' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    const upstream = upstreamAt(up);
    let clientGone = (): void => undefined;
    const gone = new Promise<void>((r) => {
      clientGone = r;
    });
    let forwarded: Promise<number> | undefined;
    const port = await front(upstream, undefined, undefined, {
      owners: sessions,
      forwarded: (done, res) => {
        forwarded = done;
        res.once('close', clientGone);
      },
    });
    const req = httpRequest({ port, method: 'POST', path: '/mcp' });
    req.on('error', () => undefined);
    req.end('{}');
    await settlesWithin(GUARD_MS, claimed, 'the claim');
    req.destroy();
    await settlesWithin(GUARD_MS, gone, 'the client leaving');
    releaseClaim(true);
    expect(await settlesWithin(GUARD_MS, forwarded as Promise<number>, 'forward')).toBe(499);
    expect(sessions.size).toBe(0);
    expect(calls).toEqual(['claim sess-1', 'end sess-1']);
  });
});

describe('forward, a new session whose reply is not passed on', () => {
  it('ends the session the upstream issued when its reply cannot be filtered (502): never left bound', async () => {
    const ended: string[] = [];
    const sessions = new SessionOwners({ onEvict: (id) => ended.push(id) });
    const up = await listen((_req, res) => {
      // A reply to prune (the rewriter is on) that is neither JSON nor SSE: refused, with its new session.
      res.writeHead(200, { 'content-type': 'text/plain', 'mcp-session-id': 'sess-1' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
    let forwarded: Promise<number> | undefined;
    const port = await front(upstreamAt(up), new SseRewriter((e) => e.data), undefined, {
      owners: sessions,
      forwarded: (done) => {
        forwarded = done;
      },
    });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest({ port, method: 'POST', path: '/mcp' }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(502);
    expect(await settlesWithin(GUARD_MS, forwarded as Promise<number>, 'forward')).toBe(502);
    expect(sessions.size).toBe(0);
    expect(ended).toEqual(['sess-1']);
  });
});
