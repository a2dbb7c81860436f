/**
 * Ending evicted sessions at the upstream (src/proxy/session-ender.ts), through the real upstream client
 * against a local HTTP server: the DELETE names the session and the version last seen in it and nothing of
 * any caller; answers map to results; nothing is sent inside `end()`; at most `maxInFlight` run at once and
 * `maxQueued` wait, the rest are dropped and counted at once; `stop()` drops the waiting ones; a failure is
 * logged with a fingerprint of the session id, never the id.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  endsInFlight,
  MAX_ENDS_IN_FLIGHT,
  SessionEnder,
  type SessionEnderOptions,
} from '../../../src/proxy/session-ender.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { createLogger, silentLogger } from '../../../src/telemetry/logger.js';
import type { SessionEvictionResult } from '../../../src/telemetry/metric-labels.js';
import { lineCollector } from '../../helpers/log-lines.js';
import { settlesWithin } from '../../helpers/wait.js';

/** How a log line names a session: the README's `printf %s "$id" | sha256sum | cut -c1-16`, with `sha256:`. */
const logName = (id: string) => `sha256:${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;

/** Failure guard only: every step below finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

interface Received {
  readonly method: string | undefined;
  readonly url: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/**
 * An upstream answering DELETEs by session id (`gone-…` 404, `refuse-…` 405, else 200); with `hold`, it
 * keeps them until `release()`. `held(n)` resolves once `n` are held at once; `peak` is the most ever held.
 */
async function startUpstream(opts: { hold?: boolean } = {}) {
  const received: Received[] = [];
  const waiting: ServerResponse[] = [];
  let releasing = !opts.hold;
  let peak = 0;
  const watchers = new Set<() => void>();
  const server = createServer((req, res) => {
    received.push({ method: req.method, url: req.url, headers: req.headers });
    req.resume();
    const id = String(req.headers['mcp-session-id']);
    const status = id.startsWith('gone-') ? 404 : id.startsWith('refuse-') ? 405 : 200;
    res.statusCode = status;
    if (releasing) {
      res.end();
      return;
    }
    waiting.push(res);
    peak = Math.max(peak, waiting.length);
    for (const w of [...watchers]) w();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  const upstream = new Upstream({ url, connectTimeoutMs: 2_000, headersTimeoutMs: 2_000, connections: 16 });
  cleanups.push(async () => {
    await upstream.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    upstream,
    received,
    get peak() {
      return peak;
    },
    held: (n: number) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (waiting.length < n) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
      }),
    release() {
      releasing = true;
      for (const res of waiting.splice(0)) res.end();
    },
  };
}

/** Results as they come, and a promise for the moment `n` have come. */
function results() {
  const list: SessionEvictionResult[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  return {
    list,
    onResult(r: SessionEvictionResult) {
      list.push(r);
      for (const w of waiters.filter((x) => list.length >= x.n)) w.resolve();
    },
    count: (n: number) =>
      settlesWithin(
        GUARD_MS,
        new Promise<void>((resolve) => {
          if (list.length >= n) resolve();
          else waiters.push({ n, resolve });
        }),
        `${n} results`,
      ),
  };
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('SessionEnder', () => {
  it('DELETEs the session with the version last seen in it, and nothing of any caller', async () => {
    const up = await startUpstream();
    const r = results();
    const ender = enderOn(up.upstream, r, { timeoutMs: 2_000 });
    ender.end('s-1', '2025-06-18');
    ender.end('gone-1', undefined);
    ender.end('refuse-1', '2025-11-25');
    // Nothing is sent inside end(): the request that evicted these goes on first.
    expect(ender.pending).toEqual({ inFlight: 0, queued: 3 });
    expect(r.list).toEqual([]);
    await r.count(3);
    expect([...r.list].sort()).toEqual(['ended', 'gone', 'refused']);
    expect(up.received.map((x) => [x.method, x.url, x.headers['mcp-session-id']])).toEqual([
      ['DELETE', '/mcp', 's-1'],
      ['DELETE', '/mcp', 'gone-1'],
      ['DELETE', '/mcp', 'refuse-1'],
    ]);
    const [first, second] = up.received;
    expect(first?.headers['mcp-protocol-version']).toBe('2025-06-18');
    // No version seen in the session: none sent (a server then uses the one negotiated at initialize).
    expect(second?.headers).not.toHaveProperty('mcp-protocol-version');
    const names = Object.keys(first?.headers ?? {}).sort();
    expect(names).toEqual([
      'accept-encoding',
      'connection',
      'host',
      'mcp-protocol-version',
      'mcp-session-id',
    ]);
    expect(ender.pending).toEqual({ inFlight: 0, queued: 0 });
  });

  it('sends at most maxInFlight at once, keeps maxQueued waiting, and drops and counts the rest at once', async () => {
    const up = await startUpstream({ hold: true });
    const r = results();
    const ender = enderOn(up.upstream, r, { timeoutMs: GUARD_MS, maxInFlight: 2, maxQueued: 3 });
    for (let i = 0; i < 10; i++) ender.end(`s-${i}`, undefined);
    expect(r.list).toEqual(Array(5).fill('dropped'));
    await settlesWithin(GUARD_MS, up.held(2), 'two DELETEs held');
    expect(ender.pending).toEqual({ inFlight: 2, queued: 3 });
    up.release();
    await r.count(10);
    expect(r.list.filter((x) => x === 'ended')).toHaveLength(5);
    expect(up.peak).toBe(2);
    expect(up.received.map((x) => x.headers['mcp-session-id'])).toEqual(['s-0', 's-1', 's-2', 's-3', 's-4']);
  });

  it('stop() drops the waiting DELETEs and any later one; the one in flight still finishes', async () => {
    const up = await startUpstream({ hold: true });
    const r = results();
    const ender = enderOn(up.upstream, r, { timeoutMs: GUARD_MS, maxInFlight: 1 });
    ender.end('s-1', undefined);
    ender.end('s-2', undefined);
    ender.end('s-3', undefined);
    await settlesWithin(GUARD_MS, up.held(1), 'one DELETE held');
    ender.stop();
    expect(r.list).toEqual(['dropped', 'dropped']);
    ender.end('s-4', undefined);
    expect(r.list).toEqual(['dropped', 'dropped', 'dropped']);
    expect(ender.pending).toEqual({ inFlight: 1, queued: 0 });
    up.release();
    await r.count(4);
    expect(r.list[3]).toBe('ended');
    expect(up.received.map((x) => x.headers['mcp-session-id'])).toEqual(['s-1']);
  });

  it('counts an upstream that cannot be reached, or does not answer in time, as failed', async () => {
    const up = await startUpstream({ hold: true });
    const r = results();
    const lines: string[] = [];
    const ender = enderOn(up.upstream, r, {
      timeoutMs: 200,
      logger: createLogger('debug', lineCollector(lines) as never),
    });
    const id = 'b7f3c1e0-secret-session-id';
    ender.end(id, undefined);
    await r.count(1);
    expect(r.list).toEqual(['failed']);
    expect(up.received).toHaveLength(1);
    expect(ender.pending).toEqual({ inFlight: 0, queued: 0 });

    const closed = new Upstream({
      url: 'http://127.0.0.1:1/mcp',
      connectTimeoutMs: 2_000,
      headersTimeoutMs: 2_000,
      connections: 1,
    });
    cleanups.push(() => closed.destroy());
    const unreachable = enderOn(closed, r, {
      timeoutMs: 2_000,
      logger: createLogger('debug', lineCollector(lines) as never),
    });
    unreachable.end(id, undefined);
    await r.count(2);
    expect(r.list).toEqual(['failed', 'failed']);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map((l) => [l.result, l.code, l.session])).toEqual([
      ['failed', 'ERR_UPSTREAM_UNAVAILABLE', logName(id)],
      ['failed', 'ERR_UPSTREAM_UNAVAILABLE', logName(id)],
    ]);
    expect(lines.join('')).not.toContain(id);
  });

  it('logs a refusal and a drop with the fingerprint only; an ended or gone session logs nothing', async () => {
    const up = await startUpstream();
    const r = results();
    const lines: string[] = [];
    const ender = enderOn(up.upstream, r, {
      timeoutMs: 2_000,
      logger: createLogger('debug', lineCollector(lines) as never),
      maxInFlight: 1,
      maxQueued: 2,
    });
    for (const id of ['refuse-secret-1', 'gone-secret-2', 'ok-secret-3', 'dropped-secret-4']) {
      ender.end(id, undefined);
    }
    await r.count(4);
    const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logged.map((l) => [l.result, l.session]).sort()).toEqual([
      ['dropped', logName('dropped-secret-4')],
      ['refused', logName('refuse-secret-1')],
    ]);
    expect(logged.find((l) => l.result === 'refused')?.status).toBe(405);
    expect(lines.join('')).not.toMatch(/secret-\d/);
  });

  it('takes at most a quarter of the upstream pool, between 1 and 8 DELETEs', () => {
    expect(MAX_ENDS_IN_FLIGHT).toBe(8);
    expect([1, 4, 8, 16, 64, 1_000].map(endsInFlight)).toEqual([1, 1, 2, 4, 8, 8]);
    expect(() => new SessionEnder({ ...options(), maxInFlight: 0 })).toThrow(TypeError);
  });
});

/** An ender on `upstream` reporting to `r`, with the test's deadline and limits. */
function enderOn(
  upstream: SessionEnderOptions['upstream'],
  r: { onResult: SessionEnderOptions['onResult'] },
  opts: Partial<SessionEnderOptions> & { timeoutMs: number },
): SessionEnder {
  return new SessionEnder({ upstream, path: '/mcp', logger: silentLogger(), onResult: r.onResult, ...opts });
}

function options() {
  return {
    upstream: { request: () => Promise.reject(new Error('unused')) },
    path: '/mcp',
    timeoutMs: 1_000,
    logger: silentLogger(),
    onResult: () => undefined,
  };
}
