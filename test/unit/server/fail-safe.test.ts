/**
 * `failSafe`, the end of a request whose route threw, on a real `node:http` server with the real runtime (its
 * tracing and listeners stood in for by recorders): the request is answered 500 `ERR_INTERNAL` and finished
 * once — counted, audited (its decided calls refused after their decision unless forwarded), logged at level
 * error — or, its reply begun, cut and recorded with the status sent; one with no context is counted as refused
 * before routing; one already finished is not reported again. A route throwing through the real public server
 * is in `test/integration/accounting.test.ts`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import type { SidecarError } from '../../../src/errors/errors.js';
import { classify } from '../../../src/mcp/action.js';
import { AnnotationCache } from '../../../src/mcp/annotations.js';
import type { MessageDecision, RequestContext } from '../../../src/pipeline/context.js';
import type { PolicyEngine } from '../../../src/policy/engine.js';
import { failSafe, INTERNAL_ERROR_REASON } from '../../../src/server/fail-safe.js';
import { type RuntimeDeps, SidecarRuntime } from '../../../src/server/runtime.js';
import type { RequestTracing } from '../../../src/telemetry/request-tracing.js';
import { captureLogger } from '../../helpers/sidecar.js';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  s?.closeAllConnections();
  if (s) await new Promise<void>((r) => s.close(() => r()));
});

interface Recorded {
  /** `requestDone` of the listeners: status and code, once per finished request. */
  readonly done: string[];
  /** The requests counted without a context: `route status reason`. */
  readonly unrouted: string[];
  readonly logs: string[];
  /** The context of the last request, as the route left it. */
  ctx?: RequestContext;
  refunded: number;
}

/** Serves each request by `route` (given its context, or none) on the real runtime; failSafe on a throw. */
async function serve(
  route: (
    rt: SidecarRuntime,
    req: IncomingMessage,
    res: ServerResponse,
    rec: Recorded,
  ) => void | Promise<void>,
): Promise<{ url: string; rec: Recorded }> {
  const rec: Recorded = { done: [], unrouted: [], logs: [], refunded: 0 };
  const tracing = {
    start: () => undefined,
    end: () => undefined,
    countPlain: (route: string, status: number, _s: number, _m: unknown, reason: unknown) =>
      rec.unrouted.push(`${route} ${status} ${reason}`),
  } as unknown as RequestTracing;
  const deps: RuntimeDeps = {
    config: parseConfig({}, {}),
    pipelines: { post: [], bodiless: [], recheck: [], unserved: [] },
    engine: {} as PolicyEngine,
    annotations: new AnnotationCache(),
    forwardDeps: {} as RuntimeDeps['forwardDeps'],
    logger: captureLogger(rec.logs),
    now: () => 0,
    tracing,
    events: {
      requestDone: (_ctx: RequestContext, status: number, err: SidecarError | undefined) =>
        rec.done.push(`${status} ${err?.code}`),
      decision: () => undefined,
      authFailure: () => undefined,
    } as unknown as RuntimeDeps['events'],
  };
  const rt = new SidecarRuntime(deps);
  const s = createServer((req, res) => {
    (async () => route(rt, req, res, rec))().catch((err: unknown) => failSafe(rt, err, res, rec.ctx));
  });
  server = s;
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/mcp`, rec };
}

/** A request of `rt` whose body held the calls `ids`, each decided allowed, with a rate-limit refund set. */
function decided(rt: SidecarRuntime, req: IncomingMessage, rec: Recorded, ids: number[]): RequestContext {
  const ctx = rt.context(req, 'streamable-http');
  rec.ctx = ctx;
  const messages = ids.map((id) => ({ kind: 'request' as const, id, method: 'ping' }));
  ctx.parsed = { messages, batch: true } as unknown as RequestContext['parsed'];
  for (const id of ids) {
    const d: MessageDecision = {
      index: id,
      action: classify('ping', id, {}),
      decision: {
        allow: true,
        reasons: [],
        obligations: {},
        sensitivity: undefined,
        revision: 'r',
        evalNs: 1,
      },
      decisionId: `d-${id}`,
    };
    ctx.decisions.push(d);
  }
  ctx.refundRateLimit = () => {
    rec.refunded++;
  };
  return ctx;
}

const errorLines = (rec: Recorded) =>
  rec.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 'error');

describe('failSafe', () => {
  it('answers 500 ERR_INTERNAL to each request of the body, refuses its calls after their decision, once', async () => {
    const { url, rec } = await serve((rt, req, _res, r) => {
      decided(rt, req, r, [1, 2]);
      throw new Error('a bug');
    });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual(
      [1, 2].map((id) => ({
        jsonrpc: '2.0',
        id,
        error: { code: -32603, message: 'Internal error', data: { code: 'ERR_INTERNAL' } },
      })),
    );
    expect(rec.done).toEqual(['500 ERR_INTERNAL']);
    expect(rec.ctx?.decisions.map((d) => d.lateRefusal)).toEqual([
      { code: 'ERR_INTERNAL', reason: INTERNAL_ERROR_REASON },
      { code: 'ERR_INTERNAL', reason: INTERNAL_ERROR_REASON },
    ]);
    expect(rec.refunded).toBe(1);
    expect(errorLines(rec)).toEqual([
      expect.objectContaining({ code: 'ERR_INTERNAL', reason: 'internal', status: 500, cause: 'a bug' }),
    ]);
  });

  it('leaves the decisions of a request the upstream already had as they were (it may have run)', async () => {
    const { url, rec } = await serve((rt, req, _res, r) => {
      decided(rt, req, r, [1]).forwarded = true;
      throw new Error('a bug after forwarding');
    });
    expect((await fetch(url, { method: 'POST' })).status).toBe(500);
    expect(rec.done).toEqual(['500 ERR_INTERNAL']);
    expect(rec.ctx?.decisions[0]?.lateRefusal).toBeUndefined();
    expect(rec.refunded).toBe(0);
  });

  it('cuts a reply already begun, recorded once with the status that went out', async () => {
    const { url, rec } = await serve(async (rt, req, res, r) => {
      decided(rt, req, r, [1]).forwarded = true;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await new Promise((written) => res.write('data: {}\n\n', written));
      throw new Error('a bug mid-reply');
    });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(200);
    await expect(res.text()).rejects.toThrow();
    expect(rec.done).toEqual(['200 ERR_INTERNAL']);
    expect(rec.ctx?.replyCut).toBe(true);
    expect(errorLines(rec)).toEqual([
      expect.objectContaining({
        code: 'ERR_INTERNAL',
        request_id: rec.ctx?.requestId,
        cause: 'a bug mid-reply',
      }),
    ]);
  });

  it('does not report a request again once its end was reported', async () => {
    const { url, rec } = await serve((rt, req, res, r) => {
      const ctx = decided(rt, req, r, [1]);
      ctx.forwarded = true;
      res.end('{}');
      rt.finish(ctx, 200, undefined);
      throw new Error('a bug after the end');
    });
    expect((await fetch(url, { method: 'POST' })).status).toBe(200);
    expect(rec.done).toEqual(['200 undefined']);
    expect(rec.unrouted).toEqual([]);
    expect(errorLines(rec)).toHaveLength(1);
  });

  it('answers and counts a request that had no context yet as refused before routing', async () => {
    const { url, rec } = await serve(() => {
      throw new Error('a bug before the context');
    });
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32603, message: 'Internal error', data: { code: 'ERR_INTERNAL' } },
    });
    expect(rec.unrouted).toEqual(['bad_request 500 internal']);
    expect(rec.done).toEqual([]);
    expect(errorLines(rec)).toEqual([
      expect.objectContaining({ code: 'ERR_INTERNAL', request_id: null, path: '/mcp' }),
    ]);
  });
});
