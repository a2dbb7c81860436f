/**
 * `handleMcp` when something throws after its request reached the upstream (a bug stood in for by the outage
 * log's `succeeded`, called once the upstream answered): the upstream had the request and may still answer its
 * ids, so the route's `finally` holds them for the late-reply grace as it holds a cut-off request's, instead of
 * freeing them (a request reusing one would take that answer for its own). Before the upstream had it, they are
 * freed at once. On a real `node:http` server and upstream, the real runtime and the real in-flight ids.
 *
 * @module
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import { InFlightIds } from '../../../src/mcp/in-flight-ids.js';
import type { RequestContext } from '../../../src/pipeline/context.js';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import { createHeaderPolicy } from '../../../src/proxy/headers.js';
import { Upstream } from '../../../src/proxy/upstream.js';
import { failSafe } from '../../../src/server/fail-safe.js';
import { handleMcp } from '../../../src/server/mcp-route.js';
import type { OutageLog } from '../../../src/server/outage-log.js';
import { type RuntimeDeps, SidecarRuntime } from '../../../src/server/runtime.js';
import { silentLogger } from '../../../src/telemetry/logger.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as AddressInfo).port;
}

const CALL = { kind: 'request' as const, id: 7, method: 'tools/call', params: { name: 'echo' } };

/** A sidecar route on the real runtime whose forward throws once the upstream answered (`throwAfterSend`). */
async function sidecar(
  throwAfterSend: boolean,
): Promise<{ url: string; ids: InFlightIds; got: () => number }> {
  let got = 0;
  const upstreamPort = await listen(
    createServer((req, res) => {
      got++;
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end('{"jsonrpc":"2.0","id":7,"result":{}}');
    }),
  );
  const upstream = new Upstream({
    url: `http://127.0.0.1:${upstreamPort}/mcp`,
    connectTimeoutMs: 5_000,
    headersTimeoutMs: 5_000,
    connections: 1,
  });
  cleanups.push(() => upstream.destroy());
  const outages = {
    failed: () => undefined,
    succeeded: () => {
      throw new Error('a bug after the upstream answered');
    },
  } as unknown as OutageLog;
  const deps: RuntimeDeps = {
    config: parseConfig({}, {}),
    pipelines: { post: [], bodiless: [], recheck: [], unserved: [] },
    engine: {} as PolicyEngine,
    annotations: new AnnotationCache(),
    forwardDeps: {
      upstream,
      headers: createHeaderPolicy({ strip: [], apiKeyHeader: 'x-api-key' }),
      logger: silentLogger(),
      ...(throwAfterSend ? { outages } : {}),
    },
    logger: silentLogger(),
    now: () => 0,
    events: {
      requestDone: () => undefined,
      decision: () => undefined,
      authFailure: () => undefined,
    } as unknown as RuntimeDeps['events'],
  };
  const rt = new SidecarRuntime(deps);
  const ids = new InFlightIds();
  const route = (ctx: RequestContext, res: ServerResponse) => {
    ctx.parsed = { messages: [CALL], batch: false } as unknown as RequestContext['parsed'];
    ctx.body = Buffer.from('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo"}}');
    const claim = ids.claim('session-1', [CALL]);
    if ('refused' in claim) throw new Error(claim.refused);
    ctx.release = claim.release;
    return handleMcp(rt, ctx, res, '/mcp');
  };
  const port = await listen(
    createServer((req, res) => {
      const ctx = rt.context(req, 'streamable-http');
      route(ctx, res).catch((err: unknown) => failSafe(rt, err, res, ctx));
    }),
  );
  return { url: `http://127.0.0.1:${port}/mcp`, ids, got: () => got };
}

describe('handleMcp, throwing after its request reached the upstream', () => {
  it('holds the ids sent for the upstream late answer, as a cut-off request is', async () => {
    const { url, ids, got } = await sidecar(true);
    const res = await fetch(url, { method: 'POST', body: '{}', headers: { 'mcp-session-id': 'session-1' } });
    expect(res.status).toBe(500);
    await res.text();
    expect(got()).toBe(1);
    expect(ids.lateIds).toBe(1);
    const reuse = ids.claim('session-1', [CALL]);
    expect(reuse).toEqual({ refused: 'request id 7 is already in flight in this session' });
  });

  it('frees them at once when the request finished normally', async () => {
    const { url, ids } = await sidecar(false);
    const res = await fetch(url, { method: 'POST', body: '{}', headers: { 'mcp-session-id': 'session-1' } });
    expect(res.status).toBe(200);
    await res.text();
    expect(ids.lateIds).toBe(0);
    expect(ids.sessions).toBe(0);
  });
});
