/**
 * `handleMcp` when something throws after its request reached the upstream (a bug stood in for by the outage
 * log's `succeeded`, called once the upstream answered): the upstream had the request and may still answer its
 * ids, so the route's `finally` holds them for the late-reply grace as it holds a cut-off request's, instead of
 * freeing them (a request reusing one would take that answer for its own). A request that finished normally
 * frees them at once. On a real `node:http` server and upstream, the real runtime and the real in-flight ids.
 *
 * @module
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InFlightIds } from '../../../src/mcp/in-flight-ids.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { OutageLog } from '../../../src/server/outage-log.js';
import { type RouteFixture, routeFixture } from '../../helpers/route-fixture.js';

let fixture: RouteFixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const CALL = { kind: 'request' as const, id: 7, method: 'tools/call', params: { name: 'echo' } };

/** A sidecar whose forward throws once the upstream answered (`throwAfterSend`); its session's ids. */
async function sidecar(throwAfterSend: boolean): Promise<{ f: RouteFixture; ids: InFlightIds }> {
  const ids = new InFlightIds();
  const outages = {
    failed: () => undefined,
    succeeded: () => {
      throw new Error('a bug after the upstream answered');
    },
  } as unknown as OutageLog;
  fixture = await routeFixture({
    answer: (req, res) => {
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}');
    },
    prepare: (ctx) => {
      ctx.parsed = { messages: [CALL], batch: false } as unknown as RequestContext['parsed'];
      ctx.body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...CALL }));
      const claim = ids.claim('session-1', [CALL]);
      if ('refused' in claim) throw new Error(claim.refused);
      ctx.release = claim.release;
    },
    forwardDeps: throwAfterSend ? { outages } : {},
  });
  return { f: fixture, ids };
}

const post = (url: string) =>
  fetch(url, { method: 'POST', body: '{}', headers: { 'mcp-session-id': 'session-1' } });

describe('handleMcp, throwing after its request reached the upstream', () => {
  it('holds the ids sent for the upstream late answer, as a cut-off request is', async () => {
    const { f, ids } = await sidecar(true);
    const res = await post(f.url);
    expect(res.status).toBe(500);
    await res.text();
    expect(f.got()).toBe(1);
    expect(ids.lateIds).toBe(1);
    expect(ids.claim('session-1', [CALL])).toEqual({
      refused: 'request id 7 is already in flight in this session',
    });
  });

  it('frees them at once when the request finished normally', async () => {
    const { f, ids } = await sidecar(false);
    const res = await post(f.url);
    expect(res.status).toBe(200);
    await res.text();
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(0);
  });
});
