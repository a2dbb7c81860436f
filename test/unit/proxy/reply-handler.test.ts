/**
 * The POST pool's dispatch handler against a real local HTTP server: short replies of known length are
 * read whole, the rest streamed; a reply read whole that stalls fails with ERR_UPSTREAM_TIMEOUT; an abort
 * (the client's signal, or a reader destroying the stream) ends the request at the upstream; `done` is
 * called once per exchange however it ends.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { dispatchReply, type ReplySignal } from '../../../src/proxy/reply-handler.js';
import { replyBytes, type UpstreamReply } from '../../../src/proxy/upstream-reply.js';
import { settlesWithin } from '../../helpers/wait.js';

/** Failure guard only: every step below finishes in milliseconds when the code is right. */
const GUARD_MS = 5_000;

type Route = (req: IncomingMessage, res: ServerResponse) => void;

interface Setup {
  readonly pool: Pool;
  /** Resolves when the server sees the request's connection close (the request was aborted). */
  readonly requestClosed: Promise<void>;
  /** Resolves when the server got the request. */
  readonly requestSeen: Promise<void>;
  readonly requests: () => number;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function setup(route: Route): Promise<Setup> {
  let closed = (): void => undefined;
  const requestClosed = new Promise<void>((r) => {
    closed = r;
  });
  let seen = (): void => undefined;
  const requestSeen = new Promise<void>((r) => {
    seen = r;
  });
  let requests = 0;
  const server: Server = createServer((req, res) => {
    requests++;
    seen();
    res.once('close', () => {
      if (!res.writableFinished) closed();
    });
    route(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: 2, bodyTimeout: 0 });
  cleanups.push(async () => {
    await pool.destroy();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { pool, requestClosed, requestSeen, requests: () => requests };
}

function send(
  s: Setup,
  opts: { idleMs?: number; signal?: ReplySignal } = {},
): { reply: Promise<UpstreamReply>; done: () => number } {
  let done = 0;
  const reply = dispatchReply(
    s.pool,
    { method: 'POST', path: '/mcp', headers: { 'content-type': 'application/json' }, body: '{}' },
    {
      wholeMax: 1024,
      idleMs: opts.idleMs ?? 0,
      signal: opts.signal ?? null,
      done: () => {
        done++;
      },
    },
  );
  return { reply, done: () => done };
}

async function streamText(r: UpstreamReply): Promise<string> {
  let text = '';
  for await (const chunk of r.body as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  return text;
}

describe('dispatchReply', () => {
  it('reads a short reply of known length whole, and still offers it as a stream', async () => {
    const s = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
      res.write('{"a":');
      res.end('"xyz"}');
    });
    const { reply, done } = send(s);
    const r = await settlesWithin(GUARD_MS, reply, 'the reply');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.whole).toBeDefined();
    expect((await r.whole)?.toString()).toBe('{"a":"xyz"}');
    expect(await streamText(r)).toBe('{"a":"xyz"}');
    expect(done()).toBe(1);
  });

  it('arms no pause timer for a short reply that comes whole with its headers, and one for a reply that pauses', async () => {
    const IDLE_MS = 12_345; // a delay nothing else here uses, to tell the handler's timer from undici's
    const armed = vi.spyOn(globalThis, 'setTimeout');
    const timers = () => armed.mock.calls.filter((c) => c[1] === IDLE_MS).length;
    try {
      let pause = false;
      const s = await setup((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
        if (pause) res.write('{"a":');
        else res.end('{"a":"xyz"}');
      });
      const whole = send(s, { idleMs: IDLE_MS });
      const r = await settlesWithin(GUARD_MS, whole.reply, 'the reply');
      expect((await r.whole)?.toString()).toBe('{"a":"xyz"}');
      expect(timers()).toBe(0);
      pause = true;
      const paused = send(s, { idleMs: IDLE_MS });
      await settlesWithin(GUARD_MS, paused.reply, 'the headers');
      await new Promise<void>((r) => process.nextTick(r));
      expect(timers()).toBe(1);
    } finally {
      armed.mockRestore();
    }
  });

  it('streams a reply of unknown length, a long one, and an event stream', async () => {
    const bodies = new Map<string, [Record<string, string | number>, string]>([
      ['chunked', [{ 'content-type': 'application/json' }, '{"chunked":true}']],
      ['long', [{ 'content-type': 'application/json', 'content-length': 2000 }, 'x'.repeat(2000)]],
      ['sse', [{ 'content-type': 'text/event-stream', 'content-length': 15 }, 'data: {"a":1}\n\n']],
    ]);
    let next = [...bodies.values()];
    const s = await setup((_req, res) => {
      const [headers, body] = next.shift() ?? [{}, ''];
      res.writeHead(200, headers);
      res.end(body);
    });
    next = [...bodies.values()];
    for (const [name, [, body]] of bodies) {
      const { reply, done } = send(s);
      const r = await settlesWithin(GUARD_MS, reply, name);
      expect(r.whole, name).toBeUndefined();
      expect(await streamText(r), name).toBe(body);
      expect(done(), name).toBe(1);
    }
  });

  it('fails a reply read whole that stalls with ERR_UPSTREAM_TIMEOUT and ends the request', async () => {
    const s = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 20 });
      res.write('{"partial":');
    });
    const { reply, done } = send(s, { idleMs: 50 });
    const r = await settlesWithin(GUARD_MS, reply, 'the headers');
    await expect(settlesWithin(GUARD_MS, r.whole ?? Promise.resolve(null), 'the body')).rejects.toMatchObject(
      {
        code: 'ERR_UPSTREAM_TIMEOUT',
      },
    );
    await settlesWithin(GUARD_MS, s.requestClosed, 'the upstream seeing the request cut');
    expect(done()).toBe(1);
  });

  it('sends nothing for a signal that fired already', async () => {
    const s = await setup((_req, res) => res.end('{}'));
    const signal = AbortSignal.abort(new Error('client went away'));
    const { reply, done } = send(s, { signal });
    await expect(reply).rejects.toThrow('client went away');
    expect(done()).toBe(1);
    expect(s.requests()).toBe(0);
  });

  it('aborts the request when the signal fires while waiting for the headers (an EventEmitter signal too)', async () => {
    const s = await setup(() => undefined);
    const signal = Object.assign(new EventEmitter(), { aborted: false, reason: undefined as unknown });
    const { reply, done } = send(s, { signal });
    await settlesWithin(GUARD_MS, s.requestSeen, 'the request reaching the upstream');
    signal.aborted = true;
    signal.reason = new Error('client went away');
    signal.emit('abort');
    await expect(settlesWithin(GUARD_MS, reply, 'the reply')).rejects.toThrow('client went away');
    await settlesWithin(GUARD_MS, s.requestClosed, 'the upstream seeing the request cut');
    expect(done()).toBe(1);
    expect(signal.listenerCount('abort')).toBe(0);
  });

  it('aborts the request when the reader destroys a stream before its end', async () => {
    const s = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {}\n\n');
    });
    const { reply, done } = send(s);
    const r = await settlesWithin(GUARD_MS, reply, 'the headers');
    r.body.destroy();
    await settlesWithin(GUARD_MS, s.requestClosed, 'the upstream seeing the request cut');
    expect(done()).toBe(1);
  });

  it('replyBytes refuses a streamed reply past its limit', async () => {
    const s = await setup((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('y'.repeat(5000));
    });
    const { reply } = send(s);
    const r = await settlesWithin(GUARD_MS, reply, 'the headers');
    await expect(replyBytes(r, 100)).rejects.toThrow('upstream reply exceeds 100 bytes');
  });
});
