/**
 * A session's GET resuming a stream with `Last-Event-ID` through `handleMcp`: each answer passing on it tells
 * the in-flight ids (a request cut off under its id, whose reply's last event that was, is owed nothing more:
 * freed). An event id over 128 characters is held by its SHA-256, made once for the GET, not once per answer
 * (`node:crypto`'s `createHash` counted). Real `node:http` server and upstream (an SSE reply), the real
 * runtime and in-flight ids.
 *
 * @module
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InFlightIds, LATE_REPLY_GRACE_MS, MAX_HELD_KEY_CHARS } from '../../../src/mcp/in-flight-ids.js';
import type { JsonRpcMessage } from '../../../src/mcp/jsonrpc.js';
import { type RouteFixture, routeFixture } from '../../helpers/route-fixture.js';

const hashed = vi.hoisted(() => [] as string[]);
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  return {
    ...real,
    createHash: (algorithm: string) => {
      const hash = real.createHash(algorithm);
      const update = hash.update.bind(hash);
      hash.update = ((data: string) => {
        hashed.push(String(data));
        return update(data);
      }) as typeof hash.update;
      return hash;
    },
  };
});

let fixture: RouteFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const SESSION = 'session-1';
const LONG_EVENT_ID = `${'e'.repeat(MAX_HELD_KEY_CHARS)}-41`;
const ANSWERED = [1, 2, 3, 4, 5];
const call = (id: number): JsonRpcMessage => ({ kind: 'request', id, method: 'tools/call', params: {} });

describe('a GET resuming a stream from a long Last-Event-ID', () => {
  it('frees the answered ids cut off there, hashing the event id once', async () => {
    const ids = new InFlightIds();
    const cut = ids.claim(SESSION, ANSWERED.map(call));
    if ('refused' in cut) throw new Error(cut.refused);
    cut.release(LATE_REPLY_GRACE_MS, LONG_EVENT_ID);
    expect(ids.lateIds).toBe(ANSWERED.length);
    fixture = await routeFixture({
      answer: (req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const id of ANSWERED)
          res.write(`id: ev-${id}\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: {} })}\n\n`);
        res.end();
      },
      prepare: (ctx) => {
        ctx.sessionIds = ids;
      },
    });
    hashed.length = 0;
    const res = await fetch(fixture.url, {
      headers: { 'mcp-session-id': SESSION, 'last-event-id': LONG_EVENT_ID, accept: 'text/event-stream' },
    });
    expect(res.status).toBe(200);
    expect((await res.text()).match(/"result"/g)).toHaveLength(ANSWERED.length);
    expect(ids.lateIds).toBe(0);
    expect(hashed.filter((h) => h === LONG_EVENT_ID)).toHaveLength(1);
  });

  it('forgets what a GET resumed again from its later event delivers, after it was cut off itself', async () => {
    const ids = new InFlightIds();
    const cut = ids.claim(SESSION, [call(1), call(2)]);
    if ('refused' in cut) throw new Error(cut.refused);
    cut.release(LATE_REPLY_GRACE_MS, 'post-ev-0');
    // The POST's stream resumed from its last event: answer 1, a notification, then the stream ends (cut
    // off); resumed from that notification's event: answer 2.
    const events: Record<string, string> = {
      'post-ev-0': `id: ev-1\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} })}\n\nid: ev-2\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } })}\n\n`,
      'ev-2': `id: ev-3\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: 2, result: {} })}\n\n`,
    };
    fixture = await routeFixture({
      answer: (req, res) => {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(events[String(req.headers['last-event-id'])] ?? '');
      },
      prepare: (ctx) => {
        ctx.sessionIds = ids;
      },
    });
    const resume = async (from: string) =>
      (
        await fetch(fixture?.url ?? '', {
          headers: { 'mcp-session-id': SESSION, 'last-event-id': from, accept: 'text/event-stream' },
        })
      ).text();
    expect(await resume('post-ev-0')).toMatch(/"id":1/);
    expect(ids.lateIds).toBe(1);
    expect(await resume('ev-2')).toMatch(/"id":2/);
    expect(ids.lateIds).toBe(0);
    expect(ids.untaughtSessions).toBe(0);
  });
});
